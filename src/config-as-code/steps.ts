import { removeExchangePolicy, setExchangePolicy } from '../registry/exchange-policies.js';
import { addResource, removeResource, updateResource } from '../registry/resources.js';
import { canonicalResource } from '../domain/resource-uri.js';
import type { Clock } from '../core/clock.js';
import type { PasswordHasher } from '../core/password-hashing.js';
import type { DocumentIssue } from '../errors/document.js';
import { createIdentityProvider, removeIdentityProvider, updateIdentityProvider, type IdentityProviderInput } from '../idp/registry.js';
import { createApplication, deleteApplication, updateApplication, type ApplicationInput, type CatalogueEntry } from '../registry/applications.js';
import { ADMIN_ROLE, CONSOLE_CLIENT_ID } from '../registry/bootstrap.js';
import { PROPERTY_DEFINITIONS, PROPERTY_NAMES, type PropertyName } from '../registry/properties.js';
import { createRole, deleteRole, updateRole } from '../registry/roles.js';
import { ADMIN_SCOPE, ALL_ACCESS_SCOPE, createScope, deleteScope, updateScope } from '../registry/scopes.js';
import { setProperty } from '../registry/settings.js';
import { removePolicy, setPolicy } from '../registry/registration.js';
import { createUser, deleteUser, updateUser } from '../registry/users.js';
import { ADDRESS_MEMBERS, PROFILE_FIELDS, type UserProfileInput } from '../registry/user-profile.js';
import type { Storage } from '../storage/types.js';
import type { DocumentApplication, DocumentIdentityProvider, DocumentUser, RegistryDocument } from './document.js';
import type { RegistrySnapshot } from './snapshot.js';
import { describedBy, matchRules, ruleDeletions, ruleSteps } from './rules.js';

/**
 * The steps of an apply: one registry call per object the document describes differently from the
 * instance (and, with --prune, per object it lacks), in an order where each step finds what it
 * refers to: properties first (the outbound rules decide which URLs the later steps may register),
 * then roles, scopes, users, applications, identity providers, registration policies, rules (config-as-code/rules.ts),
 * and the deletions last, dependants before what they depend on. Every step goes through the registry functions, which check and
 * audit exactly as the CLI's other commands do.
 */

export type ChangeKind = 'property' | 'role' | 'scope' | 'user' | 'application' | 'identityProvider' | 'rule' | 'resource' | 'registrationPolicy' | 'exchangePolicy';

/** What the steps run with: the registry's deps, on the instance or on the rehearsal's copy. */
export interface StepDeps {
  readonly storage: Storage;
  readonly clock: Clock;
  readonly actor?: string | undefined;
  readonly grants: readonly CatalogueEntry[];
  readonly hasher?: Pick<PasswordHasher, 'hash'> | undefined;
  /** Where the hosted APIs require a scope or role (present.ts apiRequirements): such a scope or role is not deleted. */
  readonly apiRequirements?: ((kind: 'scope' | 'role', name: string) => readonly string[]) | undefined;
}

/** A generated client secret, shown once. */
export interface NewSecret {
  readonly clientId: string;
  readonly name: string;
  readonly clientSecret: string;
}

export interface Step {
  readonly kind: ChangeKind;
  readonly action: 'create' | 'update' | 'delete';
  /** Where the object is in the document; for a deletion, the list it is missing from. */
  readonly path: string;
  /** What is deleted (for messages): `user "svc-old"`. */
  readonly what?: string;
  /** The object's key in a RegistrySnapshot, when it exists before the step. */
  readonly key: string | undefined;
  /** A new application whose entry gives no client id. */
  readonly generatesClientId?: boolean;
  /** A new rule whose entry gives no id. */
  readonly generatesRuleId?: boolean;
  /** The document field a registry refusal without a field is about (by RegistryError code). */
  readonly fieldFor?: Readonly<Record<string, string>>;
  /** Runs it; resolves to the key of the object it made or changed, a secret it generated, and what the plan should warn about. */
  run(deps: StepDeps): Promise<{ readonly key: string; readonly secret?: NewSecret | undefined; readonly warning?: string | undefined }>;
}

const sameJson = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b);
const sameSet = (a: readonly string[], b: readonly string[]): boolean => sameJson([...a].sort(), [...b].sort());

const PAIR_THRESHOLD = 'latchkey.password.lockout.threshold';
const USER_THRESHOLD = 'latchkey.password.lockout.user_threshold';

function propertySteps(doc: RegistryDocument, before: RegistrySnapshot, prune: boolean): Step[] {
  const listed = doc.properties as Readonly<Record<string, boolean | number | string | undefined>>;
  const wanted = new Map<string, { value: boolean | number | string; path: string }>();
  for (const name of PROPERTY_NAMES) {
    const value = listed[name];
    if (value !== undefined) wanted.set(name, { value, path: `properties["${name}"]` });
    else if (prune) wanted.set(name, { value: PROPERTY_DEFINITIONS[name as PropertyName].default, path: 'properties' });
  }
  const steps = [...wanted]
    .filter(([name, w]) => before.properties.get(name) !== w.value)
    .map(([name, w]): Step => ({
      kind: 'property',
      action: 'update',
      path: w.path,
      what: `property ${name}`,
      key: name,
      run: async (deps) => (await setProperty(deps, name, String(w.value)), { key: name }),
    }));
  // The per-user lockout limit may never be below the per-source one (registry/settings.ts): of the
  // two, set first the one that keeps that true at every step.
  const pair = steps.findIndex((s) => s.key === PAIR_THRESHOLD);
  const user = steps.findIndex((s) => s.key === USER_THRESHOLD);
  if (pair !== -1 && user !== -1) {
    const newUser = wanted.get(USER_THRESHOLD)?.value as number;
    const currentPair = before.properties.get(PAIR_THRESHOLD) as number;
    const [first, second] = newUser >= currentPair ? [steps[user], steps[pair]] : [steps[pair], steps[user]];
    return [...steps.filter((s) => s.key !== PAIR_THRESHOLD && s.key !== USER_THRESHOLD), first as Step, second as Step];
  }
  return steps;
}

function duplicates<T>(list: readonly T[], key: (t: T) => string | undefined, label: string, kind: string, issues: DocumentIssue[]): void {
  const seen = new Map<string, number>();
  list.forEach((item, i) => {
    const k = key(item);
    if (k === undefined) return;
    const first = seen.get(k);
    if (first === undefined) seen.set(k, i);
    else issues.push({ path: `${kind}[${i}]`, message: `${label} ${JSON.stringify(k)} is also ${kind}[${first}]; describe each object once` });
  });
}

function roleAndScopeSteps(doc: RegistryDocument, before: RegistrySnapshot, issues: DocumentIssue[]): Step[] {
  duplicates(doc.roles, (r) => r.name, 'the role', 'roles', issues);
  duplicates(doc.scopes, (s) => s.name, 'the scope', 'scopes', issues);
  const steps: Step[] = [];
  doc.roles.forEach((role, i) => {
    const path = `roles[${i}]`;
    if (role.name === ADMIN_ROLE || before.builtInRoles.has(role.name)) {
      issues.push({ path: `${path}.name`, message: `${role.name} is a built-in role (every instance has it); leave it out of the document` });
      return;
    }
    const current = before.roles.get(role.name);
    if (current === undefined) steps.push({ kind: 'role', action: 'create', path, key: undefined, run: async (deps) => (await createRole(deps, role.name, role.description), { key: role.name }) });
    else if (current.description !== role.description) steps.push({ kind: 'role', action: 'update', path, key: role.name, run: async (deps) => (await updateRole(deps, role.name, role.description), { key: role.name }) });
  });
  doc.scopes.forEach((scope, i) => {
    const path = `scopes[${i}]`;
    if (scope.name === ALL_ACCESS_SCOPE || scope.name === ADMIN_SCOPE || before.builtInScopes.has(scope.name)) {
      issues.push({ path: `${path}.name`, message: `${scope.name} is a built-in scope (every instance has it); leave it out of the document` });
      return;
    }
    const current = before.scopes.get(scope.name);
    if (current === undefined) steps.push({ kind: 'scope', action: 'create', path, key: undefined, run: async (deps) => (await createScope(deps, scope.name, scope.description), { key: scope.name }) });
    else if (current.description !== scope.description) steps.push({ kind: 'scope', action: 'update', path, key: scope.name, run: async (deps) => (await updateScope(deps, scope.name, scope.description), { key: scope.name }) });
  });
  return steps;
}

function userSteps(doc: RegistryDocument, before: RegistrySnapshot, issues: DocumentIssue[]): Step[] {
  duplicates(doc.users, (u) => u.userName, 'the user', 'users', issues);
  return doc.users.flatMap((u, i): Step[] => {
    const path = `users[${i}]`;
    const current = before.users.get(u.userName);
    if (current === undefined) {
      return [{ kind: 'user', action: 'create', path, key: undefined, run: async (deps) => (await createUser(deps, { userName: u.userName, roles: u.roles, active: u.active, profile: profileInput(u.profile) }), { key: u.userName }) }];
    }
    const input = {
      ...(current.active === u.active ? {} : { active: u.active }),
      ...(sameSet(current.roles, u.roles) ? {} : { roles: u.roles }),
      ...(sameJson(current.profile, u.profile) ? {} : { profile: profileInput(u.profile) }),
    };
    if (Object.keys(input).length === 0) return [];
    return [{ kind: 'user', action: 'update', path, key: u.userName, run: async (deps) => (await updateUser(deps, u.userName, input), { key: u.userName }) }];
  });
}

/** The document's profile as a registry change: every field, those left out cleared (an entry describes the whole user). */
function profileInput(p: DocumentUser['profile']): UserProfileInput {
  const fields = Object.fromEntries(PROFILE_FIELDS.map(([field]) => [field, null])) as Record<string, unknown>;
  return { ...fields, ...p, address: p.address === undefined ? null : { ...Object.fromEntries(ADDRESS_MEMBERS.map(([m]) => [m, null])), ...p.address } } as UserProfileInput;
}

type AppEntry = RegistrySnapshot['applications'] extends ReadonlyMap<string, infer V> ? V : never;

/** The registry input for an application entry: every field, or (`current` given) those that differ. */
function applicationInput(app: DocumentApplication, current: AppEntry | undefined): ApplicationInput {
  const full: Required<{ [K in keyof ApplicationInput]: ApplicationInput[K] }> = {
    name: app.name,
    grantTypes: app.grantTypes,
    appUser: app.appUser,
    // latchkey.admin follows adminApi: the registry adds it, and refuses it listed without.
    scopes: app.adminApi ? app.scopes.filter((s) => s !== ADMIN_SCOPE) : app.scopes,
    redirectUris: app.redirectUris,
    accessTokenLifespan: app.accessTokenLifespan,
    refreshTokenLifespan: app.refreshTokenLifespan,
    public: app.public,
    active: app.active,
    tokenFormat: app.tokenFormat,
    logoUri: app.logoUri,
    audience: app.audience,
    jwks: app.jwks === null ? null : JSON.stringify(app.jwks),
    jwksUri: app.jwksUri,
    canIntrospect: app.canIntrospect,
    adminApi: app.adminApi,
    rateLimit: app.rateLimit,
    idTokenSignedResponseAlg: app.idTokenSignedResponseAlg,
    // Stored in claim-name order: compared so, a reordered document is no change.
    claimMappings: app.claimMappings === null ? null : Object.fromEntries(Object.entries(app.claimMappings).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))),
    postLogoutRedirectUris: app.postLogoutRedirectUris,
    backchannelLogoutUri: app.backchannelLogoutUri,
    backchannelLogoutSessionRequired: app.backchannelLogoutSessionRequired,
    resources: app.resources,
    parRequired: app.parRequired,
    dpopRequired: app.dpopRequired,
  };
  if (current === undefined) return full;
  const compared: Record<string, unknown> = { ...current, jwks: current.jwks === null ? null : JSON.stringify(current.jwks) };
  const changed = Object.entries(full).filter(([field, value]) => {
    const was = compared[field];
    return Array.isArray(value) && Array.isArray(was) && field !== 'redirectUris' ? !sameSet(value as string[], was as string[]) : !sameJson(value, was);
  });
  return Object.fromEntries(changed) as ApplicationInput;
}

const APP_FIELDS: Readonly<Record<string, string>> = { user_not_found: 'appUser', scope_not_found: 'scopes' };

/** Which existing application each entry describes: by client id, else by its unique name. */
function matchApplications(doc: RegistryDocument, before: RegistrySnapshot, issues: DocumentIssue[]): (string | undefined)[] {
  duplicates(doc.applications, (a) => a.clientId, 'the client id', 'applications', issues);
  const byClientId = new Map([...before.applications].map(([id, a]) => [a.clientId, id]));
  const claimed = new Map<string, number>();
  return doc.applications.map((app, i) => {
    const path = `applications[${i}]`;
    if (app.clientId === CONSOLE_CLIENT_ID) {
      issues.push({ path: `${path}.clientId`, message: `${CONSOLE_CLIENT_ID} is the built-in console application, which the instance creates and repairs itself; leave it out of the document` });
      return undefined;
    }
    let id: string | undefined;
    if (app.clientId !== undefined) id = byClientId.get(app.clientId);
    else {
      const named = [...before.applications].filter(([, a]) => a.name === app.name.trim());
      if (named.length > 1) {
        issues.push({ path: `${path}.clientId`, message: `${named.length} applications are named ${JSON.stringify(app.name)} (client ids ${named.map(([, a]) => a.clientId).join(', ')}); give the clientId of the one this entry describes` });
        return undefined;
      }
      id = named[0]?.[0];
    }
    if (id !== undefined) {
      const other = claimed.get(id);
      if (other !== undefined) issues.push({ path, message: `describes the same application as applications[${other}] (client id ${before.applications.get(id)?.clientId}); describe each application once` });
      claimed.set(id, i);
    }
    return id;
  });
}

function applicationSteps(doc: RegistryDocument, before: RegistrySnapshot, matched: readonly (string | undefined)[]): Step[] {
  return doc.applications.flatMap((app, i): Step[] => {
    const path = `applications[${i}]`;
    if (app.clientId === CONSOLE_CLIENT_ID) return [];
    const id = matched[i];
    const current = id === undefined ? undefined : before.applications.get(id);
    if (current === undefined) {
      return [{
        kind: 'application',
        action: 'create',
        path,
        key: undefined,
        generatesClientId: app.clientId === undefined,
        fieldFor: APP_FIELDS,
        async run(deps) {
          const { application, clientSecret } = await createApplication(deps, applicationInput(app, undefined), { clientId: app.clientId });
          return { key: application.id, secret: clientSecret === null ? undefined : { clientId: application.clientId, name: application.name, clientSecret } };
        },
      }];
    }
    const input = applicationInput(app, current);
    if (Object.keys(input).length === 0) return [];
    return [{
      kind: 'application',
      action: 'update',
      path,
      key: id,
      fieldFor: APP_FIELDS,
      async run(deps) {
        const { application, clientSecret } = await updateApplication(deps, current.clientId, input);
        // Made confidential: the registry generated its first secret.
        return { key: application.id, secret: clientSecret === null ? undefined : { clientId: application.clientId, name: application.name, clientSecret } };
      },
    }];
  });
}

/** Which existing provider each entry describes: by name, else by issuer (a rename). */
function matchProviders(doc: RegistryDocument, before: RegistrySnapshot, issues: DocumentIssue[]): (string | undefined)[] {
  duplicates(doc.identityProviders, (p) => p.name, 'the name', 'identityProviders', issues);
  duplicates(doc.identityProviders, (p) => p.issuer, 'the issuer', 'identityProviders', issues);
  const current = [...before.identityProviders];
  const names = new Set(doc.identityProviders.map((p) => p.name));
  return doc.identityProviders.map((p) => current.find(([, c]) => c.name === p.name)?.[0] ?? current.find(([, c]) => c.issuer === p.issuer && !names.has(c.name))?.[0]);
}

function providerInput(p: DocumentIdentityProvider, current: DocumentIdentityProvider | undefined): IdentityProviderInput {
  const keys = { metadataUrl: p.metadataUrl ?? undefined, jwksUri: p.jwksUri ?? undefined };
  const full = { name: p.name, issuer: p.issuer, audience: p.audience, userClaim: p.userClaim, userField: p.userField, active: p.active };
  // Apply checks the URLs against the outbound rules, but fetches nothing: `latchkey doctor` does.
  if (current === undefined) return { ...full, ...keys, check: false };
  const changed = Object.entries(full).filter(([field, value]) => current[field as keyof typeof full] !== value);
  const moved = current.metadataUrl !== p.metadataUrl || current.jwksUri !== p.jwksUri;
  return { ...Object.fromEntries(changed), ...(moved ? keys : {}), check: false };
}

function providerSteps(doc: RegistryDocument, before: RegistrySnapshot, matched: readonly (string | undefined)[]): Step[] {
  return doc.identityProviders.flatMap((p, i): Step[] => {
    const path = `identityProviders[${i}]`;
    const id = matched[i];
    const current = id === undefined ? undefined : before.identityProviders.get(id);
    if (current === undefined) {
      return [{ kind: 'identityProvider', action: 'create', path, key: undefined, run: async (deps) => ({ key: (await createIdentityProvider(deps, providerInput(p, undefined))).provider.id }) }];
    }
    const input = providerInput(p, current);
    if (Object.keys(input).length === 1) return [];
    return [{ kind: 'identityProvider', action: 'update', path, key: id, run: async (deps) => ({ key: (await updateIdentityProvider(deps, id as string, input)).provider.id }) }];
  });
}

/** The canonical identifier of a resource entry (the entry as written when it does not parse: the registry refuses it with its own message). */
function canonicalUri(uri: string): string {
  const parsed = canonicalResource(uri.trim());
  return parsed.ok ? parsed.uri : uri;
}

/** Registered external resources (RFC 8707): each entry created, or updated where it differs. */
function resourceSteps(doc: RegistryDocument, before: RegistrySnapshot, issues: DocumentIssue[]): Step[] {
  duplicates(doc.resources, (r) => canonicalUri(r.uri), 'the resource identifier', 'resources', issues);
  return doc.resources.flatMap((r, i): Step[] => {
    const path = `resources[${i}]`;
    const uri = canonicalUri(r.uri);
    const current = before.resources.get(uri);
    if (current === undefined) {
      return [{ kind: 'resource', action: 'create', path, key: uri, run: async (deps) => ({ key: (await addResource(deps, { uri: r.uri, name: r.name, description: r.description, scopes: r.scopes })).uri }) }];
    }
    const scopes = [...r.scopes].sort();
    const changed = (r.name !== undefined && r.name !== current.name) || r.description !== current.description || JSON.stringify(scopes) !== JSON.stringify(current.scopes);
    if (!changed) return [];
    return [{ kind: 'resource', action: 'update', path, key: uri, run: async (deps) => ({ key: (await updateResource(deps, uri, { name: r.name, description: r.description, scopes: r.scopes })).uri }) }];
  });
}

/** Registration policies (by name): created or changed as a whole, every restriction as the document gives it. */
function registrationPolicySteps(doc: RegistryDocument, before: RegistrySnapshot, issues: DocumentIssue[]): Step[] {
  duplicates(doc.registrationPolicies, (p) => p.name, 'the registration policy', 'registrationPolicies', issues);
  return doc.registrationPolicies.flatMap((p, i): Step[] => {
    const current = before.registrationPolicies.get(p.name);
    if (current !== undefined && sameJson(current, p)) return [];
    const { name, ...input } = p;
    return [{ kind: 'registrationPolicy', action: current === undefined ? 'create' : 'update', path: `registrationPolicies[${i}]`, key: current === undefined ? undefined : name, run: async (deps) => ({ key: (await setPolicy(deps, name, input)).name }) }];
  });
}

/** Token exchange policies (by client id): created or changed as a whole, after the applications they are for. */
function exchangePolicySteps(doc: RegistryDocument, before: RegistrySnapshot, issues: DocumentIssue[]): Step[] {
  duplicates(doc.exchangePolicies, (p) => p.clientId, 'the exchange policy of', 'exchangePolicies', issues);
  return doc.exchangePolicies.flatMap((p, i): Step[] => {
    const current = before.exchangePolicies.get(p.clientId);
    if (current !== undefined && sameJson(current, p)) return [];
    const { clientId, ...input } = p;
    return [{ kind: 'exchangePolicy', action: current === undefined ? 'create' : 'update', path: `exchangePolicies[${i}]`, key: current === undefined ? undefined : clientId, run: async (deps) => ({ key: (await setExchangePolicy(deps, clientId, input)).policy.clientId }) }];
  });
}

/** With --prune: what the document lacks, dependants first (a rule before its application, an application before its user, a user before its roles). */
function pruneSteps(doc: RegistryDocument, before: RegistrySnapshot, apps: readonly (string | undefined)[], providers: readonly (string | undefined)[], rules: readonly (string | undefined)[]): Step[] {
  const del = (kind: ChangeKind, list: string, key: string, what: string, run: (deps: StepDeps) => Promise<unknown>): Step => ({
    kind,
    action: 'delete',
    path: list,
    what,
    key,
    run: async (deps) => (await run(deps), { key }),
  });
  const keptApps = new Set(apps.filter((id) => id !== undefined));
  const keptProviders = new Set(providers.filter((id) => id !== undefined));
  const users = new Set(doc.users.map((u) => u.userName));
  const scopes = new Set(doc.scopes.map((s) => s.name));
  // A role a listed user carries is part of the document even when the roles list leaves it out.
  const roles = new Set([...doc.roles.map((r) => r.name), ...doc.users.flatMap((u) => u.roles)]);
  const resources = new Set(doc.resources.map((r) => canonicalUri(r.uri)));
  return [
    // A rule names an application, scopes or roles: it goes first.
    ...ruleDeletions(before, rules),
    // An exchange policy names applications, providers and scopes: it goes first.
    ...[...before.exchangePolicies.keys()].filter((id) => !doc.exchangePolicies.some((p) => p.clientId === id)).map((id) => del('exchangePolicy', 'exchangePolicies', id, `exchange policy of ${id}`, (deps) => removeExchangePolicy(deps, id))),
    // A policy names scopes: it goes before them.
    ...[...before.registrationPolicies.keys()].filter((name) => !doc.registrationPolicies.some((p) => p.name === name)).map((name) => del('registrationPolicy', 'registrationPolicies', name, `registration policy "${name}"`, (deps) => removePolicy(deps, name))),
    ...[...before.applications].filter(([id]) => !keptApps.has(id)).map(([id, a]) => del('application', 'applications', id, `application "${a.name}" (client id ${a.clientId})`, (deps) => deleteApplication(deps, a.clientId))),
    ...[...before.identityProviders].filter(([id]) => !keptProviders.has(id)).map(([id, p]) => del('identityProvider', 'identityProviders', id, `identity provider "${p.name}"`, (deps) => removeIdentityProvider(deps, id))),
    ...[...before.users.keys()].filter((name) => !users.has(name)).map((name) => del('user', 'users', name, `user "${name}"`, (deps) => deleteUser(deps, name))),
    ...[...before.scopes.keys()].filter((name) => !scopes.has(name)).map((name) => del('scope', 'scopes', name, `scope "${name}"`, (deps) => deleteScope(deps, name))),
    ...[...before.roles.keys()].filter((name) => !roles.has(name)).map((name) => del('role', 'roles', name, `role "${name}"`, (deps) => deleteRole(deps, name))),
    ...[...before.resources.keys()].filter((uri) => !resources.has(uri)).map((uri) => del('resource', 'resources', uri, `resource ${uri}`, (deps) => removeResource(deps, uri))),
  ];
}

/**
 * Every step that makes the instance (as `before` describes it) match the document, in the order
 * they run, and the problems of the document itself (two entries for one object, built-ins).
 */
export function planSteps(doc: RegistryDocument, before: RegistrySnapshot, prune: boolean): { steps: Step[]; issues: DocumentIssue[] } {
  const issues: DocumentIssue[] = [];
  const apps = matchApplications(doc, before, issues);
  const providers = matchProviders(doc, before, issues);
  const rules = matchRules(doc, before, issues);
  const steps = [
    ...propertySteps(doc, before, prune),
    ...roleAndScopeSteps(doc, before, issues),
    ...userSteps(doc, before, issues),
    ...applicationSteps(doc, before, apps),
    ...providerSteps(doc, before, providers),
    ...registrationPolicySteps(doc, before, issues),
    ...exchangePolicySteps(doc, before, issues),
    ...ruleSteps(doc, before, rules, describedBy(doc, before, apps, prune), issues),
    ...resourceSteps(doc, before, issues),
    ...(prune ? pruneSteps(doc, before, apps, providers, rules) : []),
  ];
  return { steps, issues };
}
