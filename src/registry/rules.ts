/**
 * Report-only rules: a change that would refuse requests, introduced in `report` mode first. While
 * it reports, requests it would refuse succeed and leave a "would refuse" record with the full
 * explanation (src/audit/would-refuse.ts); `enforce` is one audited step:
 *
 * - `api_requirement`: scopes and/or roles a hosted API (target `namespace/api`) or one resource of
 *   it (target `METHOD namespace/api/template`) requires on top of its definition. The API modules
 *   are code, so an enforced requirement stays a rule and refuses itself (api.scope_missing,
 *   api.role_missing, naming the rule).
 * - `property`: an instance switch that refuses (a grant type off, OAuth off, Basic on APIs off,
 *   client_secret_post off) set to its new value. Enforcing sets the property.
 * - `application`: an application's grant types and/or scopes replaced. Enforcing updates the
 *   application.
 * - `rate_limit`: a client rate limit (target `instance`: latchkey.rate_limit.client, a count per
 *   latchkey.rate_limit.window_seconds; or a client id: the application's own, `100/1m`). Enforcing
 *   sets it.
 *
 * Every write is audited (rule.create, rule.enforce, rule.report, rule.delete) and moves the change
 * version, so every instance's rule book (src/registry/rule-book.ts) follows within a poll.
 */
import { randomBytes } from 'node:crypto';
import type { Clock } from '../core/clock.js';
import { didYouMean } from '../core/nearest.js';
import { commandLine } from '../core/shell.js';
import { formatRateLimit, parseRateLimit } from '../domain/rate-limit.js';
import type { Rule, RuleKind, RuleMode, RuleSpec } from '../domain/model.js';
import { RULE_KINDS } from '../domain/model.js';
import type { Storage } from '../storage/types.js';
import { recordChange } from '../audit/log.js';
import { checkGrants, checkScopes, findApplication, updateApplication, type CatalogueEntry } from './applications.js';
import { RegistryError } from './errors.js';
import { parsePropertyValue, type PropertyName } from './properties.js';
import { setProperty } from './settings.js';
import { ROLE_NAME } from './users.js';

export const RULE_ID = /^rule_[0-9a-z]{12}$/;

/**
 * The instance switches a property rule may change, and the value of each that refuses requests
 * (a rule setting the other value refuses nothing: set it directly).
 */
export const RULE_PROPERTIES: Readonly<Partial<Record<PropertyName, { readonly refusing: boolean; readonly refuses: string }>>> = {
  'com.snc.platform.security.oauth.is.active': { refusing: false, refuses: 'every token request (instance.oauth_inactive)' },
  'glide.oauth.inbound.client.credential.grant_type.enabled': { refusing: false, refuses: 'client_credentials token requests (grant.client_credentials_disabled)' },
  'glide.oauth.inbound.ropc.grant_type.disabled': { refusing: true, refuses: 'password-grant token requests (grant.ropc_disabled)' },
  'latchkey.api.basic_auth.enabled': { refusing: false, refuses: 'HTTP Basic calls to hosted APIs (api.basic_auth_disabled)' },
  'latchkey.client_auth.client_secret_post.enabled': { refusing: false, refuses: 'clients sending their secret in the body (client_auth.client_secret_post_disabled)' },
};
export const RULE_PROPERTY_NAMES = Object.keys(RULE_PROPERTIES) as PropertyName[];

/** The instance-wide rate-limit target. */
export const INSTANCE_TARGET = 'instance';

/** What the registry knows of the hosted APIs and MCP servers (the router's, or the APIs folder the CLI loads). */
export interface ApiCatalogue {
  readonly apis: readonly { readonly namespace: string; readonly id: string; readonly resources: readonly { readonly method: string; readonly template: string }[] }[];
  /** The hosted MCP servers and their tools; absent: an `mcp:` target is taken when well-formed. */
  readonly mcpServers?: readonly { readonly namespace: string; readonly id: string; readonly tools: readonly { readonly name: string }[] }[];
}

export interface RuleDeps {
  readonly storage: Pick<Storage, 'rules' | 'properties' | 'applications' | 'users' | 'scopes' | 'roles'> & Partial<Pick<Storage, 'audit'>>;
  readonly clock: Clock;
  readonly actor?: string | undefined;
  /** The grant catalogue: application rules name grant types; enforcing one updates the application. */
  readonly grants: readonly CatalogueEntry[];
  /** The hosted APIs, to check an api_requirement's target; absent: any well-formed target is taken. */
  readonly apis?: ApiCatalogue | undefined;
}

/** A new rule as the CLI, the admin API and config as code give it. */
export interface RuleInput {
  readonly kind: string;
  readonly target: string;
  readonly scopes?: readonly string[] | undefined;
  readonly roles?: readonly string[] | undefined;
  readonly grantTypes?: readonly string[] | undefined;
  readonly value?: string | undefined;
  readonly note?: string | null | undefined;
}

/** The parts of an api_requirement target: the API, and the resource when it names one. */
export interface ApiTarget {
  readonly namespace: string;
  readonly id: string;
  readonly method?: string | undefined;
  readonly template?: string | undefined;
}

const API_TARGET = /^(?:([A-Z]+) )?([a-z0-9][a-z0-9_-]{0,63})\/([a-z0-9][a-z0-9_-]{0,63})(\/.*)?$/i;

/** Parses `namespace/api` or `METHOD namespace/api/template`; undefined when it is neither. */
export function parseApiTarget(target: string): ApiTarget | undefined {
  const m = API_TARGET.exec(target.trim());
  if (m === null) return undefined;
  const [, method, namespace, id, template] = m;
  if ((method === undefined) !== (template === undefined)) return undefined;
  return { namespace: namespace as string, id: id as string, method, template };
}

/** The parts of an api_requirement target on a hosted MCP server: the server, and the tool when it names one. */
export interface McpTarget {
  readonly namespace: string;
  readonly id: string;
  readonly tool?: string | undefined;
}

/** The prefix of a target on a hosted MCP server (as in the metrics label `mcp:<namespace>/<id>`). */
export const MCP_TARGET_PREFIX = 'mcp:';
const MCP_TARGET = /^mcp:([a-z0-9][a-z0-9_-]{0,63})\/([a-z0-9][a-z0-9_-]{0,63})(?:\/([A-Za-z0-9_.-]{1,64}))?$/i;

/**
 * Parses `mcp:namespace/server` (every request to the hosted MCP server) or
 * `mcp:namespace/server/tool` (that tool's calls); undefined when it is neither.
 */
export function parseMcpTarget(target: string): McpTarget | undefined {
  const m = MCP_TARGET.exec(target.trim());
  if (m === null) return undefined;
  const [, namespace, id, tool] = m;
  return { namespace: namespace as string, id: id as string, tool };
}

/** How a rule reads in one line: `api_requirement acme/orders needs scope orders.read`. */
export function describeRule(rule: Pick<Rule, 'kind' | 'target' | 'spec'>): string {
  const s = rule.spec;
  switch (rule.kind) {
    case 'api_requirement': {
      const parts = [...(s.scopes?.length ? [`one of the scopes ${s.scopes.join(' ')}`] : []), ...(s.roles?.length ? [`one of the roles ${s.roles.join(', ')}`] : [])];
      return `${rule.target} requires ${parts.join(' and ')}`;
    }
    case 'property':
      return `${rule.target} = ${s.value ?? ''}`;
    case 'application': {
      const parts = [...(s.grantTypes !== undefined ? [`grant types ${s.grantTypes.join(', ') || '(none)'}`] : []), ...(s.scopes !== undefined ? [`scopes ${s.scopes.join(' ') || '(none)'}`] : [])];
      return `application ${rule.target}: ${parts.join('; ')}`;
    }
    case 'rate_limit':
      return rule.target === INSTANCE_TARGET ? `latchkey.rate_limit.client = ${s.value ?? ''}` : `rate limit of ${rule.target} = ${s.value ?? ''}`;
  }
}

function newRuleId(): string {
  const alphabet = '0123456789abcdefghijklmnopqrstuvwxyz';
  const bytes = randomBytes(12);
  let id = 'rule_';
  for (const b of bytes) id += alphabet[b % 36];
  return id;
}

function list(values: readonly string[] | undefined): string[] | undefined {
  if (values === undefined) return undefined;
  return [...new Set(values.map((v) => v.trim()).filter((v) => v !== ''))];
}

function checkNote(note: string | null | undefined): string | null {
  if (note === undefined || note === null || note.trim() === '') return null;
  if (note.length > 500 || /[\x00-\x08\x0b-\x1f\x7f]/.test(note)) throw new RegistryError('invalid_input', 'A rule note has at most 500 printable characters.', 'note');
  return note.trim();
}

function checkKind(kind: string): RuleKind {
  if ((RULE_KINDS as readonly string[]).includes(kind)) return kind as RuleKind;
  throw new RegistryError('invalid_input', `Unknown rule kind "${kind}".${didYouMean(kind, RULE_KINDS)} Kinds: ${RULE_KINDS.join(', ')}.`, 'kind');
}

function unused(input: RuleInput, kind: RuleKind, allowed: readonly (keyof RuleInput)[]): void {
  for (const field of ['scopes', 'roles', 'grantTypes', 'value'] as const) {
    if (input[field] !== undefined && !allowed.includes(field)) throw new RegistryError('invalid_input', `A ${kind} rule takes no ${field}: it takes ${allowed.join(' and ')}.`, field);
  }
}

/** The MCP server (and tool) a target names, checked against the hosted MCP servers when they are known. */
function checkMcpTarget(deps: Pick<RuleDeps, 'apis'>, raw: string): string {
  const target = parseMcpTarget(raw);
  if (target === undefined) {
    throw new RegistryError('invalid_input', `"${raw}" is not an MCP target: give mcp:namespace/server (every request to the hosted MCP server) or mcp:namespace/server/tool (one tool's calls), for example "mcp:acme/assistant" or "mcp:acme/assistant/search_orders".`, 'target');
  }
  const name = `${target.namespace}/${target.id}`;
  const canonical = `${MCP_TARGET_PREFIX}${name}${target.tool === undefined ? '' : `/${target.tool}`}`;
  const catalogue = deps.apis?.mcpServers;
  if (catalogue === undefined) return canonical;
  const server = catalogue.find((a) => a.namespace === target.namespace && a.id === target.id);
  if (server === undefined) {
    const names = catalogue.map((a) => `${MCP_TARGET_PREFIX}${a.namespace}/${a.id}`);
    throw new RegistryError('api_not_found', `No hosted MCP server ${name}.${didYouMean(`${MCP_TARGET_PREFIX}${name}`, names)} Loaded: ${names.join(', ') || '(none: start the server with --apis, or give the CLI --apis)'}.`, 'target');
  }
  if (target.tool === undefined || server.tools.some((t) => t.name === target.tool)) return canonical;
  const tools = server.tools.map((t) => t.name);
  throw new RegistryError('api_not_found', `MCP server ${name} has no tool ${target.tool}.${didYouMean(target.tool, tools)} Its tools: ${tools.join(', ') || '(none)'}.`, 'target');
}

/** The API (and resource) a target names, checked against the hosted APIs when they are known. */
function checkApiTarget(deps: Pick<RuleDeps, 'apis'>, raw: string): string {
  if (raw.toLowerCase().startsWith(MCP_TARGET_PREFIX)) return checkMcpTarget(deps, raw);
  const target = parseApiTarget(raw);
  if (target === undefined) {
    throw new RegistryError('invalid_input', `"${raw}" is not an API target: give namespace/api (the whole API) or METHOD namespace/api/template (one resource), for example "acme/orders" or "GET acme/orders/{id}"; or mcp:namespace/server (a hosted MCP server) or mcp:namespace/server/tool (one of its tools).`, 'target');
  }
  const method = target.method?.toUpperCase();
  const name = `${target.namespace}/${target.id}`;
  const canonical = method === undefined ? name : `${method} ${name}${target.template}`;
  const catalogue = deps.apis?.apis;
  if (catalogue === undefined) return canonical;
  const api = catalogue.find((a) => a.namespace === target.namespace && a.id === target.id);
  if (api === undefined) {
    const names = catalogue.map((a) => `${a.namespace}/${a.id}`);
    throw new RegistryError('api_not_found', `No hosted API ${name}.${didYouMean(name, names)} Loaded: ${names.join(', ') || '(none: start the server with --apis, or give the CLI --apis)'}.`, 'target');
  }
  if (method === undefined) return canonical;
  const resource = api.resources.find((r) => r.method === method && r.template === target.template);
  if (resource === undefined) {
    const routes = api.resources.map((r) => `${r.method} ${name}${r.template}`);
    throw new RegistryError('api_not_found', `API ${name} has no resource ${method} ${target.template}.${didYouMean(canonical, routes)} Its resources: ${routes.join(', ')}.`, 'target');
  }
  return canonical;
}

async function checkRoles(deps: RuleDeps, roles: readonly string[]): Promise<void> {
  for (const role of roles) {
    if (!ROLE_NAME.test(role)) throw new RegistryError('invalid_input', `"${role}" is not a valid role name.`, 'roles');
    if ((await deps.storage.roles.byName(role)) === undefined) {
      const near = didYouMean(role, (await deps.storage.roles.list()).map((r) => r.name));
      throw new RegistryError('role_not_found', `No role named "${role}".${near} Create it with: ${commandLine(['roles', 'create', role])}`, 'roles');
    }
  }
}

/** A property value for a rule, its refusal naming the field (the console shows it there). */
function valueOf(name: string, raw: string): boolean | number | string {
  try {
    return parsePropertyValue(name, raw);
  } catch (error) {
    if (error instanceof RegistryError && error.field === undefined) throw new RegistryError(error.code, error.message, 'value', { cause: error });
    throw error;
  }
}

/** The target and spec of a new rule, checked against the registry; throws a RegistryError saying what to give. */
async function checkRule(deps: RuleDeps, kind: RuleKind, input: RuleInput): Promise<{ target: string; spec: RuleSpec }> {
  const raw = input.target.trim();
  if (raw === '') throw new RegistryError('invalid_input', 'A rule needs a target.', 'target');
  switch (kind) {
    case 'api_requirement': {
      unused(input, kind, ['scopes', 'roles']);
      const target = checkApiTarget(deps, raw);
      const scopes = list(input.scopes) ?? [];
      const roles = list(input.roles) ?? [];
      if (scopes.length === 0 && roles.length === 0) throw new RegistryError('invalid_input', 'An api_requirement rule needs scopes (--scopes) or roles (--roles) the API would require.', 'scopes');
      await checkScopes(deps, scopes);
      await checkRoles(deps, roles);
      return { target, spec: { ...(scopes.length > 0 ? { scopes } : {}), ...(roles.length > 0 ? { roles } : {}) } };
    }
    case 'property': {
      unused(input, kind, ['value']);
      const switchable = RULE_PROPERTIES[raw as PropertyName];
      if (switchable === undefined) {
        throw new RegistryError('invalid_input', `A property rule changes an instance switch that refuses requests: ${RULE_PROPERTY_NAMES.join(', ')}; not "${raw}".${didYouMean(raw, RULE_PROPERTY_NAMES)}`, 'target');
      }
      if (input.value === undefined) throw new RegistryError('invalid_input', `A property rule needs the new value (--value ${String(switchable.refusing)}).`, 'value');
      const value = valueOf(raw, input.value);
      if (value !== switchable.refusing) {
        throw new RegistryError('invalid_input', `Setting ${raw} to ${String(value)} refuses nothing, so there is nothing to report first: set it with ${commandLine(['properties', 'set', raw, String(value)])}. A rule of it would be --value ${String(switchable.refusing)} (it refuses ${switchable.refuses}).`, 'value');
      }
      return { target: raw, spec: { value: String(value) } };
    }
    case 'application': {
      unused(input, kind, ['grantTypes', 'scopes']);
      const app = await findApplication(deps, raw);
      const grantTypes = input.grantTypes === undefined ? undefined : checkGrants(input.grantTypes, deps.grants);
      const scopes = input.scopes === undefined ? undefined : await checkScopes(deps, input.scopes);
      if (grantTypes === undefined && scopes === undefined) throw new RegistryError('invalid_input', 'An application rule needs the new grant types (--grant-types) and/or scopes (--scopes).', 'grantTypes');
      return { target: app.clientId, spec: { ...(grantTypes === undefined ? {} : { grantTypes }), ...(scopes === undefined ? {} : { scopes }) } };
    }
    case 'rate_limit': {
      unused(input, kind, ['value']);
      if (input.value === undefined) throw new RegistryError('invalid_input', 'A rate_limit rule needs the new limit (--value): a count per latchkey.rate_limit.window_seconds for target instance, 100/1m for an application.', 'value');
      if (raw === INSTANCE_TARGET) {
        const value = valueOf('latchkey.rate_limit.client', input.value);
        if (value === 0) throw new RegistryError('invalid_input', 'latchkey.rate_limit.client = 0 means no limit, which refuses nothing: set it directly.', 'value');
        return { target: raw, spec: { value: String(value) } };
      }
      const app = await findApplication(deps, raw);
      const parsed = parseRateLimit(input.value);
      if (!parsed.ok) throw new RegistryError('invalid_input', parsed.message, 'value');
      if (parsed.value === 'off') throw new RegistryError('invalid_input', 'A limit of off refuses nothing: set it with latchkey apps update --rate-limit off.', 'value');
      return { target: app.clientId, spec: { value: formatRateLimit(parsed.value) } };
    }
  }
}

/** The rule with this id; rule_not_found (with the nearest id) when there is none. */
export async function findRule(deps: { storage: Pick<Storage, 'rules'> }, id: string): Promise<Rule> {
  const rule = RULE_ID.test(id) ? await deps.storage.rules.byId(id) : undefined;
  if (rule !== undefined) return rule;
  const ids = (await deps.storage.rules.list()).map((r) => r.id);
  throw new RegistryError('rule_not_found', `No rule with id "${id}".${didYouMean(id, ids)} List them with \`latchkey rules list\`.`);
}

export async function listRules(deps: { storage: Pick<Storage, 'rules'> }): Promise<Rule[]> {
  return deps.storage.rules.list();
}

/** Adds a rule, in report mode unless `mode` says enforce (then as `enforceRule` at once). Audited as rule.create. */
export async function createRule(deps: RuleDeps, input: RuleInput, options: { readonly mode?: RuleMode; readonly id?: string } = {}): Promise<Rule> {
  const kind = checkKind(input.kind);
  const { target, spec } = await checkRule(deps, kind, input);
  const now = deps.clock.now();
  const same = (await deps.storage.rules.list()).find((r) => r.kind === kind && r.target === target && JSON.stringify(r.spec) === JSON.stringify(spec) && (r.mode === 'report' || kind === 'api_requirement'));
  if (same !== undefined) throw new RegistryError('invalid_input', `Rule ${same.id} already says this (${describeRule(same)}, ${same.mode}).`, 'target');
  if (options.id !== undefined && !RULE_ID.test(options.id)) throw new RegistryError('invalid_input', `A rule id is rule_ and 12 lowercase letters or digits (got "${options.id}").`, 'id');
  const rule: Rule = { id: options.id ?? newRuleId(), kind, target, spec, mode: 'report', note: checkNote(input.note), createdAt: now, createdBy: deps.actor ?? 'system', updatedAt: now, enforcedAt: null, enforcedBy: null };
  await deps.storage.rules.create(rule);
  await recordChange(deps, { action: 'rule.create', target: rule.id, before: null, after: rule });
  return options.mode === 'enforce' ? enforceRule(deps, rule.id) : rule;
}

/** What enforcing did besides switching the rule: the setting it applied, for the CLI and the console to say. */
export function appliedBy(rule: Rule): string {
  switch (rule.kind) {
    case 'api_requirement':
      return rule.target.startsWith(MCP_TARGET_PREFIX) ? `The rule now refuses requests to ${rule.target} that lack what it requires (403 insufficient_scope, the MCP step-up).` : `The rule now refuses calls to ${rule.target} that lack what it requires.`;
    case 'property':
      return `Property ${rule.target} is now ${rule.spec.value ?? ''}.`;
    case 'application':
      return `Application ${rule.target} now has ${[...(rule.spec.grantTypes !== undefined ? [`grant types ${rule.spec.grantTypes.join(', ')}`] : []), ...(rule.spec.scopes !== undefined ? [`scopes ${rule.spec.scopes.join(' ')}`] : [])].join(' and ')}.`;
    case 'rate_limit':
      return rule.target === INSTANCE_TARGET ? `latchkey.rate_limit.client is now ${rule.spec.value ?? ''}.` : `Application ${rule.target} now has the rate limit ${rule.spec.value ?? ''}.`;
  }
}

/**
 * Switches a reporting rule to enforce: an api_requirement refuses from now on; the other kinds
 * apply their change (the property set, the application updated, each audited as usual) and stay
 * as the record of it. Audited as rule.enforce.
 */
export async function enforceRule(deps: RuleDeps, id: string): Promise<Rule> {
  const current = await findRule(deps, id);
  if (current.mode === 'enforce') throw new RegistryError('invalid_input', `Rule ${id} is enforced already (since ${new Date(current.enforcedAt ?? current.updatedAt).toISOString()}, by ${current.enforcedBy ?? 'unknown'}).`);
  switch (current.kind) {
    case 'api_requirement':
      break;
    case 'property':
      await setProperty(deps, current.target, current.spec.value ?? '');
      break;
    case 'application':
      await updateApplication(deps, current.target, { ...(current.spec.grantTypes === undefined ? {} : { grantTypes: current.spec.grantTypes }), ...(current.spec.scopes === undefined ? {} : { scopes: current.spec.scopes }) });
      break;
    case 'rate_limit':
      if (current.target === INSTANCE_TARGET) await setProperty(deps, 'latchkey.rate_limit.client', current.spec.value ?? '');
      else await updateApplication(deps, current.target, { rateLimit: current.spec.value });
      break;
  }
  const now = deps.clock.now();
  const rule: Rule = { ...current, mode: 'enforce', updatedAt: now, enforcedAt: now, enforcedBy: deps.actor ?? 'system' };
  await deps.storage.rules.update(rule);
  await recordChange(deps, { action: 'rule.enforce', target: id, before: current, after: rule });
  return rule;
}

/**
 * Puts an enforced api_requirement back to report (calls it refuses succeed again, recorded as
 * "would refuse"). The other kinds applied their change when enforced; that is undone by changing
 * the setting back, not here. Audited as rule.report.
 */
export async function reportRule(deps: Pick<RuleDeps, 'storage' | 'clock' | 'actor'>, id: string): Promise<Rule> {
  const current = await findRule(deps, id);
  if (current.mode === 'report') throw new RegistryError('invalid_input', `Rule ${id} reports already.`);
  if (current.kind !== 'api_requirement') {
    throw new RegistryError('invalid_input', `Rule ${id} applied its change when it was enforced (${appliedBy(current)}); change that setting back to undo it, and add a new rule to report again.`);
  }
  const rule: Rule = { ...current, mode: 'report', updatedAt: deps.clock.now(), enforcedAt: null, enforcedBy: null };
  await deps.storage.rules.update(rule);
  await recordChange(deps, { action: 'rule.report', target: id, before: current, after: rule });
  return rule;
}

/** Deletes a rule (a reporting one stops reporting; an enforced api_requirement stops refusing). Audited as rule.delete. */
export async function deleteRule(deps: Pick<RuleDeps, 'storage' | 'clock' | 'actor'>, id: string): Promise<Rule> {
  const current = await findRule(deps, id);
  if (!(await deps.storage.rules.delete(id))) throw new RegistryError('rule_not_found', `Rule ${id} was deleted meanwhile.`);
  await recordChange(deps, { action: 'rule.delete', target: id, before: current, after: null });
  return current;
}
