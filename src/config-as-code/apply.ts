import { DocumentError, type DocumentIssue } from '../errors/document.js';
import { RegistryError } from '../registry/errors.js';
import type { CompiledApi } from '../resource-server/compile.js';
import { createMemoryStorage } from '../storage/memory/adapter.js';
import { StorageError, type Storage } from '../storage/types.js';
import { ENTRY_SCHEMAS, type RegistryDocument } from './document.js';
import { apiWarnings, ruleWarnings } from './warnings.js';
import { readRegistry, type RegistrySnapshot, type RegistryStorage } from './snapshot.js';
import { planSteps, type ChangeKind, type NewSecret, type Step, type StepDeps } from './steps.js';

/**
 * `latchkey apply`: makes the instance match a registry document. It first rehearses every step on
 * an in-memory copy of the registry, through the same registry functions, so that everything the
 * registry would refuse (a redirect URI, a JWKS URI the outbound rules refuse, a scope nobody
 * created) is found, with its path in the document, before anything changes. The plan is the
 * difference between the registry before and after the rehearsal, so it shows what will really
 * change (a grant type the registry adds, a role a user's list creates), and a document applied
 * twice plans nothing the second time. Then the steps that change something run on the instance.
 */

export type { ChangeKind, NewSecret } from './steps.js';

export interface FieldChange {
  readonly field: string;
  /** null for a creation. */
  readonly from: unknown;
  readonly to: unknown;
}

export interface PlannedChange {
  readonly action: 'create' | 'update' | 'delete';
  readonly kind: ChangeKind;
  /** The object's name (an application's name, its client id being `clientId`; a rule's id, or "new rule" when apply generates it). */
  readonly name: string;
  /** Applications: the client id (generated on apply for a new application whose entry has none: null). */
  readonly clientId: string | null;
  /** Where it is in the document; for a deletion by --prune, the list that lacks it; null for what another entry implies. */
  readonly path: string | null;
  /** Update: the fields that change; create: the fields that are not the default. */
  readonly fields: readonly FieldChange[];
  /** What else happens (a secret is generated; a role is created because a user carries it). */
  readonly note: string | null;
}

export interface Plan {
  readonly prune: boolean;
  readonly changes: readonly PlannedChange[];
  /** Problems apply does not fix and that are not errors (an API requires a scope the instance lacks). */
  readonly warnings: readonly string[];
  /** The steps that change something, in the order they run. */
  readonly steps: readonly Step[];
}

export interface ApplyDeps extends StepDeps {
  /** The APIs this instance serves, when known (the server; the CLI with --apis): for warnings. */
  readonly servedApis?: readonly CompiledApi[] | undefined;
}

/** A copy of the registry in memory: the rehearsal's instance. */
async function copyRegistry(from: RegistryStorage): Promise<Storage> {
  const to = createMemoryStorage();
  const [roles, scopes, users, apps, providers, properties, rules, resources, policies, iats, exchangePolicies] = await Promise.all([
    from.roles.list(),
    from.scopes.list(),
    from.users.list(),
    from.applications.list(),
    from.identityProviders.list(),
    from.properties.list(),
    from.rules.list(),
    from.resources.list(),
    from.registrationPolicies.list(),
    from.initialAccessTokens.list(),
    from.exchangePolicies.list(),
  ]);
  for (const r of roles) await to.roles.create(r);
  for (const s of scopes) await to.scopes.create(s);
  for (const u of users) await to.users.create(u);
  for (const a of apps) await to.applications.create(a);
  for (const p of providers) await to.identityProviders.create(p);
  for (const p of properties) await to.properties.set(p.name, p.value, p.updatedAt);
  for (const r of rules) await to.rules.create(r);
  for (const r of resources) await to.resources.create(r);
  for (const p of policies) await to.registrationPolicies.put(p);
  // The tokens, for what removing a policy checks (a live token naming it); never exported.
  for (const t of iats) await to.initialAccessTokens.create(t);
  for (const p of exchangePolicies) await to.exchangePolicies.put(p);
  return to;
}

/** A refusal of the registry as a document issue: its path plus the field the registry names. */
function issueOf(step: Step, error: unknown): DocumentIssue {
  if (!(error instanceof RegistryError) && !(error instanceof StorageError)) throw error;
  const field = error instanceof RegistryError ? (error.field ?? step.fieldFor?.[error.code]) : undefined;
  const prefix = step.action === 'delete' ? `cannot delete ${step.what ?? 'it'} (not in the document, --prune): ` : '';
  return { path: step.action === 'delete' || field === undefined ? step.path : `${step.path}.${field}`, message: `${prefix}${error.message}` };
}

type Entry = Record<string, unknown>;
const DEFAULTS: Readonly<Record<ChangeKind, Entry>> = {
  property: {},
  role: ENTRY_SCHEMAS.role.parse({ name: 'x' }),
  scope: ENTRY_SCHEMAS.scope.parse({ name: 'x' }),
  user: ENTRY_SCHEMAS.user.parse({ userName: 'x' }),
  application: ENTRY_SCHEMAS.application.parse({ name: 'x' }),
  identityProvider: ENTRY_SCHEMAS.identityProvider.parse({ name: 'x', issuer: 'x', audience: 'x', jwksUri: 'x' }),
  // A rule's kind and target are always shown; its defaults are its mode and note only.
  rule: { mode: 'report', note: null },
  resource: ENTRY_SCHEMAS.resource.parse({ uri: 'x' }),
  registrationPolicy: ENTRY_SCHEMAS.registrationPolicy.parse({ name: 'x' }),
  exchangePolicy: ENTRY_SCHEMAS.exchangePolicy.parse({ clientId: 'x' }),
};
const IDENTITY: Readonly<Record<ChangeKind, readonly string[]>> = { property: [], role: ['name'], scope: ['name'], user: ['userName'], application: ['clientId', 'name'], identityProvider: ['name'], rule: ['id'], resource: ['uri'], registrationPolicy: ['name'], exchangePolicy: ['clientId'] };
const same = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b);

function fieldChanges(kind: ChangeKind, from: Entry | undefined, to: Entry): FieldChange[] {
  return Object.entries(to)
    .filter(([field, value]) => (from === undefined ? !IDENTITY[kind].includes(field) && !same(value, DEFAULTS[kind][field]) : !same(value, from[field])))
    .map(([field, value]) => ({ field, from: from === undefined ? null : from[field], to: value }));
}

function entriesOf(snapshot: RegistrySnapshot, kind: Exclude<ChangeKind, 'property'>): ReadonlyMap<string, Entry> {
  const maps = { role: snapshot.roles, scope: snapshot.scopes, user: snapshot.users, application: snapshot.applications, identityProvider: snapshot.identityProviders, rule: snapshot.rules, resource: snapshot.resources, registrationPolicy: snapshot.registrationPolicies, exchangePolicy: snapshot.exchangePolicies };
  return maps[kind] as unknown as ReadonlyMap<string, Entry>;
}

const KINDS: readonly Exclude<ChangeKind, 'property'>[] = ['role', 'scope', 'user', 'application', 'identityProvider', 'registrationPolicy', 'rule', 'resource', 'exchangePolicy'];

/**
 * Rules in the order of their entries in the document, then by id: the storage lists them by when
 * they were created, which differs between the rehearsal and the run.
 */
function inDocumentOrder(rules: ReadonlyMap<string, Entry>, made: ReadonlyMap<string, Step>): [string, Entry][] {
  const index = (key: string): number => {
    const m = /^rules\[(\d+)\]$/.exec(made.get(`rule:${key}`)?.path ?? '');
    return m === null ? Number.MAX_SAFE_INTEGER : Number(m[1]);
  };
  return [...rules].sort(([a], [b]) => index(a) - index(b) || (a < b ? -1 : a > b ? 1 : 0));
}

/** The changes between two snapshots; `made` maps a kind and key to the step that made or changed it. */
function diff(before: RegistrySnapshot, after: RegistrySnapshot, made: ReadonlyMap<string, Step>, doc: RegistryDocument): { changes: PlannedChange[]; touched: Set<string> } {
  const changes: PlannedChange[] = [];
  /** `${kind}:${key}` of every object that changes. */
  const touched = new Set<string>();
  for (const [name, value] of after.properties) {
    const was = before.properties.get(name);
    if (was !== value) touched.add(`property:${name}`);
    if (was !== value) changes.push({ action: 'update', kind: 'property', name, clientId: null, path: made.get(`property:${name}`)?.path ?? null, fields: [{ field: 'value', from: was, to: value }], note: null });
  }
  const deletes: PlannedChange[] = [];
  for (const kind of KINDS) {
    const was = entriesOf(before, kind);
    const now = entriesOf(after, kind);
    const nameOf = (e: Entry): string => String(kind === 'user' ? e.userName : kind === 'rule' ? e.id : kind === 'resource' ? e.uri : e.name);
    const clientIdOf = (e: Entry): string | null => (kind === 'application' ? (e.clientId as string) : null);
    for (const [key, entry] of kind === 'rule' ? inDocumentOrder(now, made) : now) {
      const step = made.get(`${kind}:${key}`);
      const old = was.get(key);
      if (old !== undefined && same(old, entry)) continue;
      touched.add(`${kind}:${key}`);
      const creating = old === undefined;
      const fields = fieldChanges(kind, old, entry);
      const documented = step?.path ?? null;
      let note: string | null = null;
      let clientId = clientIdOf(entry);
      if (kind === 'application' && creating) {
        if (step?.generatesClientId === true) {
          clientId = null;
          note = 'client id generated';
        }
        if (entry.public !== true) note = `${note === null ? '' : `${note}; `}secret generated, shown once`;
      } else if (kind === 'application' && old?.public === true && entry.public === false) note = 'now confidential: secret generated, shown once';
      let name = nameOf(entry);
      // The rehearsal's generated id is not the one the run will generate.
      if (kind === 'rule' && creating && step?.generatesRuleId === true) {
        name = 'new rule';
        note = 'rule id generated';
      }
      if (kind === 'role' && creating && step === undefined) {
        const user = doc.users.findIndex((u) => u.roles.includes(nameOf(entry)));
        note = `carried by users[${user}]`;
      }
      changes.push({ action: creating ? 'create' : 'update', kind, name, clientId, path: documented, fields, note });
    }
    for (const [key, entry] of was) {
      if (!now.has(key)) deletes.push({ action: 'delete', kind, name: nameOf(entry), clientId: clientIdOf(entry), path: made.get(`${kind}:${key}`)?.path ?? null, fields: [], note: null });
    }
  }
  // Deletions run last, dependants first (the order of the steps).
  const order: readonly ChangeKind[] = ['exchangePolicy', 'rule', 'registrationPolicy', 'application', 'identityProvider', 'user', 'scope', 'role', 'resource'];
  return { changes: [...changes, ...deletes.sort((a, b) => order.indexOf(a.kind) - order.indexOf(b.kind))], touched };
}

/**
 * Plans the changes that make the instance match `doc`, rehearsing them on a copy; changes
 * nothing. Throws a DocumentError (`invalid_document` or `refused`) naming every problem.
 */
export async function planApply(deps: ApplyDeps, doc: RegistryDocument, options: { readonly prune: boolean }): Promise<Plan> {
  const before = await readRegistry(deps.storage);
  const { steps, issues } = planSteps(doc, before, options.prune);
  if (issues.length > 0) throw new DocumentError('invalid_document', issues);
  const copy = await copyRegistry(deps.storage);
  const rehearsal: StepDeps = { storage: copy, clock: deps.clock, grants: deps.grants, actor: 'apply-rehearsal', apiRequirements: deps.apiRequirements };
  const made = new Map<string, Step>();
  const refused: DocumentIssue[] = [];
  const stepWarnings: string[] = [];
  for (const step of steps) {
    try {
      const { key, warning } = await step.run(rehearsal);
      made.set(`${step.kind}:${key}`, step);
      if (warning !== undefined) stepWarnings.push(warning);
    } catch (error) {
      refused.push(issueOf(step, error));
    }
  }
  if (refused.length > 0) throw new DocumentError('refused', refused);
  const after = await readRegistry(copy);
  await copy.close();
  const { changes, touched } = diff(before, after, made, doc);
  // A step that turned out to change nothing (a grant type listed without the one it implies, say) is not run.
  const effective = steps.filter((s) => s.action !== 'update' || touched.has(`${s.kind}:${s.key}`));
  return { prune: options.prune, changes, warnings: [...apiWarnings(doc, after, deps.servedApis), ...ruleWarnings(doc, deps.servedApis), ...stepWarnings], steps: effective };
}

export interface Applied {
  /** How many steps ran (each one registry change, audited). */
  readonly steps: number;
  /** The secrets generated for new (or newly confidential) applications: shown once, stored only as hashes. */
  readonly secrets: readonly NewSecret[];
  /**
   * Set when a step was refused on the instance although the rehearsal passed (the instance changed
   * since the plan was made): the steps before it were made (and their secrets are in `secrets`),
   * none after it. Running apply again finishes the job.
   */
  readonly failed?: DocumentError | undefined;
}

/** Runs a plan's steps on the instance, in order; stops at the first one refused (see Applied.failed). */
export async function executePlan(deps: ApplyDeps, plan: Plan): Promise<Applied> {
  const secrets: NewSecret[] = [];
  let done = 0;
  for (const step of plan.steps) {
    try {
      const { secret } = await step.run(deps);
      if (secret !== undefined) secrets.push(secret);
      done += 1;
    } catch (error) {
      const heading = `Applied ${done} of ${plan.steps.length} changes, then the instance refused one (it changed since the plan was made); run apply again to finish`;
      return { steps: done, secrets, failed: new DocumentError('incomplete', [issueOf(step, error)], heading) };
    }
  }
  return { steps: done, secrets };
}
