import type { DocumentIssue } from '../errors/document.js';
import { updateApplication } from '../registry/applications.js';
import { PROPERTY_DEFINITIONS, resolveProperties, type PropertyName } from '../registry/properties.js';
import { createRule, deleteRule, describeRule, enforceRule, findRule, INSTANCE_TARGET, reportRule, type RuleInput } from '../registry/rules.js';
import { RegistryError } from '../registry/errors.js';
import { ADMIN_SCOPE } from '../registry/scopes.js';
import { setProperty } from '../registry/settings.js';
import type { Rule } from '../domain/model.js';
import type { DocumentRule, RegistryDocument } from './document.js';
import { byteOrder, type RegistrySnapshot } from './snapshot.js';
import type { Step, StepDeps } from './steps.js';

/**
 * The steps of an apply for the document's rules (src/registry/rules.ts), after every other
 * creation and update (a rule names applications, scopes and roles, which must exist first):
 *
 * - a rule the instance lacks is created under its id, in its mode. Created in mode enforce, an
 *   `api_requirement` refuses at once; the other kinds apply their change when enforced (the
 *   property set, the application updated). Where the document describes that property or
 *   application otherwise (the change was undone on the instance it was exported from), the
 *   document's value is set again and the rule stays as the record: the instance ends as the
 *   document says, with a warning;
 * - a rule whose mode differs is enforced, or put back to report (an api_requirement only: the
 *   other kinds applied their change, which the registry refuses to take back). Enforcing through
 *   apply while the document describes the property or application otherwise is refused, naming
 *   both: the document must say what it wants;
 * - a rule's kind, target, fields and note are fixed once it is created: an entry that changes
 *   them is refused (delete the rule, add the new one);
 * - with --prune, a rule the document lacks is deleted (first of the deletions: rules depend on
 *   what they name).
 */

type RuleEntry = DocumentRule & { readonly id: string };

/** The registry function's fields, by the code of a refusal that names none. */
const RULE_FIELDS: Readonly<Record<string, string>> = { application_not_found: 'target', api_not_found: 'target', scope_not_found: 'scopes', role_not_found: 'roles' };

const valueText = (v: string | boolean | number | undefined): string | undefined => (v === undefined ? undefined : String(v));
const setOf = (list: readonly string[] | undefined): string[] | null => (list === undefined ? null : [...new Set(list.map((x) => x.trim()))].sort(byteOrder));
const sameSet = (a: readonly string[] | undefined, b: readonly string[] | undefined): boolean => JSON.stringify(setOf(a)) === JSON.stringify(setOf(b));
const noteOf = (note: string | null): string | null => (note === null || note.trim() === '' ? null : note.trim());

/** The rule an entry describes, as describeRule reads it. */
function asRule(e: DocumentRule): Pick<Rule, 'kind' | 'target' | 'spec'> {
  const value = valueText(e.value);
  return {
    kind: e.kind as Rule['kind'],
    target: e.target,
    spec: { ...(e.scopes === undefined ? {} : { scopes: e.scopes }), ...(e.roles === undefined ? {} : { roles: e.roles }), ...(e.grantTypes === undefined ? {} : { grantTypes: e.grantTypes }), ...(value === undefined ? {} : { value }) },
  };
}

/** What a rule says (its kind, target and fields; lists as sets): how an entry without an id finds its rule. */
function contentOf(r: DocumentRule): string {
  return JSON.stringify([r.kind, r.target.trim(), setOf(r.scopes), setOf(r.roles), setOf(r.grantTypes), valueText(r.value) ?? null]);
}

/** Which existing rule each entry describes: by id, else by what it says (a rule not claimed by another entry). */
export function matchRules(doc: RegistryDocument, before: RegistrySnapshot, issues: DocumentIssue[]): (string | undefined)[] {
  const seen = new Map<string, number>();
  doc.rules.forEach((r, i) => {
    if (r.id === undefined) return;
    const first = seen.get(r.id);
    if (first === undefined) seen.set(r.id, i);
    else issues.push({ path: `rules[${i}]`, message: `the rule id ${JSON.stringify(r.id)} is also rules[${first}]; describe each object once` });
  });
  const claimed = new Set<string>(seen.keys());
  return doc.rules.map((r) => {
    if (r.id !== undefined) return before.rules.has(r.id) ? r.id : undefined;
    const content = contentOf(r);
    const found = [...before.rules].find(([id, e]) => !claimed.has(id) && contentOf(e) === content)?.[0];
    if (found !== undefined) claimed.add(found);
    return found;
  });
}

/** The fields of an entry that differ from the rule it names (its kind, target, fields, note: fixed once created). */
function fixedFieldsChanged(entry: DocumentRule, current: RuleEntry): string[] {
  const changed: string[] = [];
  if (entry.kind !== current.kind) changed.push('kind');
  if (entry.target.trim() !== current.target) changed.push('target');
  for (const field of ['scopes', 'roles', 'grantTypes'] as const) if (!sameSet(entry[field], current[field])) changed.push(field);
  if (valueText(entry.value) !== valueText(current.value)) changed.push('value');
  if (noteOf(entry.note) !== current.note) changed.push('note');
  return changed;
}

function inputOf(r: DocumentRule): RuleInput {
  return { kind: r.kind, target: r.target, scopes: r.scopes, roles: r.roles, grantTypes: r.grantTypes, value: valueText(r.value), note: r.note };
}

/** What else in the document describes what enforcing a rule changes, and where. */
interface Described {
  /** Properties the document sets: those it lists, and (--prune) every other at its default. */
  readonly property: (name: string) => string | undefined;
  /** Applications the document has an entry for, by client id: where. */
  readonly application: (clientId: string) => string | undefined;
}

/** The property a rule changes when it is enforced (property and instance rate_limit rules). */
function propertyOf(rule: Rule): string | undefined {
  if (rule.kind === 'property') return rule.target;
  if (rule.kind === 'rate_limit' && rule.target === INSTANCE_TARGET) return 'latchkey.rate_limit.client';
  return undefined;
}

/**
 * When the document describes what enforcing `rule` changes otherwise than the rule: what it says
 * (read from the registry as the earlier steps left it), how to set it again, and where it is.
 */
async function disagreement(deps: StepDeps, rule: Rule, described: Described): Promise<{ says: string; where: string; restore: () => Promise<unknown> } | undefined> {
  const property = propertyOf(rule);
  if (property !== undefined) {
    const where = described.property(property);
    if (where === undefined) return undefined;
    const now = String(resolveProperties(await deps.storage.properties.list())[property as PropertyName]);
    if (now === rule.spec.value) return undefined;
    return { says: `${property} = ${now}`, where, restore: () => setProperty(deps, property, now) };
  }
  if (rule.kind === 'api_requirement') return undefined;
  const where = described.application(rule.target);
  const app = where === undefined ? undefined : await deps.storage.applications.byClientId(rule.target);
  if (where === undefined || app === undefined) return undefined;
  if (rule.kind === 'rate_limit') {
    const limit = app.rateLimit ?? null;
    if (limit === (rule.spec.value ?? null)) return undefined;
    return { says: `rate limit ${limit ?? 'null (the instance\'s)'}`, where, restore: () => updateApplication(deps, app.clientId, { rateLimit: limit }) };
  }
  const scopes = app.adminApi ? app.scopes.filter((s) => s !== ADMIN_SCOPE) : [...app.scopes];
  const grants = rule.spec.grantTypes !== undefined && !sameSet(app.grantTypes, rule.spec.grantTypes);
  const scoped = rule.spec.scopes !== undefined && !sameSet(scopes, rule.spec.scopes.filter((s) => s !== ADMIN_SCOPE));
  if (!grants && !scoped) return undefined;
  const says = [...(grants ? [`grant types [${app.grantTypes.join(', ')}]`] : []), ...(scoped ? [`scopes [${scopes.join(', ')}]`] : [])].join(' and ');
  return { says, where, restore: () => updateApplication(deps, app.clientId, { ...(grants ? { grantTypes: [...app.grantTypes] } : {}), ...(scoped ? { scopes } : {}) }) };
}

/** The rule steps: creations and mode changes in document order; the issues of entries that change what a rule says. */
export function ruleSteps(doc: RegistryDocument, before: RegistrySnapshot, matched: readonly (string | undefined)[], described: Described, issues: DocumentIssue[]): Step[] {
  return doc.rules.flatMap((r, i): Step[] => {
    const path = `rules[${i}]`;
    const id = matched[i];
    const current = id === undefined ? undefined : before.rules.get(id);
    if (current === undefined) {
      return [{
        kind: 'rule',
        action: 'create',
        path,
        key: undefined,
        generatesRuleId: r.id === undefined,
        fieldFor: RULE_FIELDS,
        async run(deps) {
          const rule = await createRule(deps, inputOf(r), { ...(r.id === undefined ? {} : { id: r.id }), mode: r.mode === 'enforce' && r.kind === 'api_requirement' ? 'enforce' : 'report' });
          if (r.mode !== 'enforce' || rule.kind === 'api_requirement') return { key: rule.id };
          // Read what the document has before enforcing changes it.
          const differs = await disagreement(deps, rule, described);
          await enforceRule(deps, rule.id);
          if (differs === undefined) return { key: rule.id };
          await differs.restore();
          return {
            key: rule.id,
            warning: `${path}: rule ${rule.id} (${describeRule(rule)}) is created enforced, which applies its change, but ${differs.where} has ${differs.says}: that is kept, and the rule stays as the record of the change. To apply the rule's change, put its value in ${differs.where}.`,
          };
        },
      }];
    }
    const changed = fixedFieldsChanged(r, current);
    if (changed.length > 0) {
      issues.push({
        path: `${path}.${changed[0] as string}`,
        message: `rule ${current.id} says ${describeRule(asRule(current))}${current.note === null ? '' : ` (note: ${JSON.stringify(current.note)})`}; a rule's kind, target, fields and note are fixed once it is created (this entry changes ${changed.join(', ')}): delete it (\`latchkey rules delete ${current.id}\`, or leave it out with --prune) and add the new rule without an id`,
      });
      return [];
    }
    if (current.mode === r.mode) return [];
    return [{
      kind: 'rule',
      action: 'update',
      path,
      key: current.id,
      fieldFor: { invalid_input: 'mode' },
      async run(deps) {
        if (r.mode === 'report') return { key: (await reportRule(deps, current.id)).id };
        const rule = await findRule(deps, current.id);
        if (rule.kind !== 'api_requirement') {
          const differs = await disagreement(deps, rule, described);
          if (differs !== undefined) {
            throw new RegistryError(
              'invalid_input',
              `enforcing rule ${rule.id} applies ${describeRule(rule)}, but ${differs.where} has ${differs.says}. Make the document say what it wants: the rule's value in ${differs.where} (then the rule is enforced and its change kept), or the rule in mode report.`,
              'mode',
            );
          }
        }
        return { key: (await enforceRule(deps, current.id)).id };
      },
    }];
  });
}

/** What the document describes, for the rule steps: the properties it sets and the applications it has entries for. */
export function describedBy(doc: RegistryDocument, before: RegistrySnapshot, apps: readonly (string | undefined)[], prune: boolean): Described {
  const listed = doc.properties as Readonly<Record<string, boolean | number | string | undefined>>;
  const clients = new Map<string, string>();
  doc.applications.forEach((app, i) => {
    const clientId = app.clientId ?? (apps[i] === undefined ? undefined : before.applications.get(apps[i] as string)?.clientId);
    if (clientId !== undefined) clients.set(clientId, `applications[${i}]`);
  });
  return {
    property(name) {
      const value = listed[name];
      if (value !== undefined) return `properties["${name}"]`;
      return prune ? `properties (left out, so at its default ${String(PROPERTY_DEFINITIONS[name as PropertyName].default)} with --prune)` : undefined;
    },
    application: (clientId) => clients.get(clientId),
  };
}

/** With --prune: the rules the document lacks. */
export function ruleDeletions(before: RegistrySnapshot, matched: readonly (string | undefined)[]): Step[] {
  const kept = new Set(matched.filter((id) => id !== undefined));
  return [...before.rules.values()]
    .filter((r) => !kept.has(r.id))
    .map((r): Step => ({
      kind: 'rule',
      action: 'delete',
      path: 'rules',
      what: `rule ${r.id} (${describeRule(asRule(r))})`,
      key: r.id,
      run: async (deps) => (await deleteRule(deps, r.id), { key: r.id }),
    }));
}
