import { RULE_KINDS, type Application, type IdentityProvider, type RegistrationPolicy, type Rule, type User } from '../domain/model.js';
import { CONSOLE_CLIENT_ID } from '../registry/bootstrap.js';
import { PROPERTY_DEFINITIONS, PROPERTY_NAMES, resolveProperties } from '../registry/properties.js';
import { ADMIN_SCOPE } from '../registry/scopes.js';
import type { CompiledApi } from '../resource-server/compile.js';
import type { Storage } from '../storage/types.js';
import {
  API_VERSION,
  KIND,
  type DocumentApi,
  type DocumentApplication,
  type DocumentIdentityProvider,
  type DocumentRegistrationPolicy,
  type DocumentExchangePolicy,
  type DocumentRole,
  type DocumentRule,
  type DocumentResource,
  type DocumentScope,
  type DocumentUser,
  type RegistryDocument,
} from './document.js';

/**
 * The registry in the document's canonical form, keyed the way a plan compares two of them: what
 * `export` writes, and what `apply` compares before and after its rehearsal. What the operator did
 * not configure is left out: the built-in roles and scopes, the console application (the instance
 * creates and repairs them at start), properties at their default. Lists are in byte order of
 * their names, so two exports of the same registry are byte-identical.
 */
export interface RegistrySnapshot {
  /** Every property's value, default or not. */
  readonly properties: ReadonlyMap<string, boolean | number | string>;
  readonly roles: ReadonlyMap<string, DocumentRole>;
  readonly scopes: ReadonlyMap<string, DocumentScope>;
  /** By user name. */
  readonly users: ReadonlyMap<string, DocumentUser>;
  /** By the application's internal id (stable across a rename, unlike its name). */
  readonly applications: ReadonlyMap<string, DocumentApplication & { readonly clientId: string }>;
  /** By the provider's internal id. */
  readonly identityProviders: ReadonlyMap<string, DocumentIdentityProvider>;
  /** By the rule's id (the same on every instance: apply creates a rule under its id). */
  readonly rules: ReadonlyMap<string, DocumentRule & { readonly id: string }>;
  /** Registered external resources (RFC 8707), by their canonical identifier. */
  readonly resources: ReadonlyMap<string, DocumentResource & { readonly name: string }>;
  /** By name. */
  readonly registrationPolicies: ReadonlyMap<string, DocumentRegistrationPolicy>;
  /** Token exchange policies (RFC 8693), by client id. */
  readonly exchangePolicies: ReadonlyMap<string, DocumentExchangePolicy>;
  /** Built-in role and scope names (referenced, never listed). */
  readonly builtInRoles: ReadonlySet<string>;
  readonly builtInScopes: ReadonlySet<string>;
}

/**
 * The fields of the stored records that the document leaves out, and why; every other field is
 * exported (test/config-as-code.test.ts checks it, so a field added to a record must be added to
 * the document or here).
 */
export const NOT_EXPORTED: Readonly<Record<'user' | 'role' | 'scope' | 'application' | 'identityProvider' | 'rule' | 'resource' | 'registrationPolicy' | 'exchangePolicy', Readonly<Record<string, string>>>> = {
  exchangePolicy: { spec: 'exported as its fields (subjectApplications, identityProviders, idTokens, resources, scopes, impersonation)', createdAt: 'a time', updatedAt: 'a time' },
  registrationPolicy: { spec: 'exported as its fields (grantTypes, scopes, redirectHosts, tokenFormats, authMethods, applicationTypes)', createdAt: 'a time', updatedAt: 'a time' },
  resource: { createdAt: 'a time', updatedAt: 'a time' },
  user: { id: 'differs between instances', passwordHash: 'a secret (a user apply creates has no password)', passwordChangedAt: 'a time', createdAt: 'a time', updatedAt: 'a time' },
  role: { builtIn: 'built-in roles are left out' },
  scope: { builtIn: 'built-in scopes are left out' },
  application: { id: 'differs between instances', appUserId: 'exported as appUser (the user name)', secretHash: 'a secret (apply generates one)', secretRotatedAt: 'a time', createdAt: 'a time', updatedAt: 'a time', idTokenAlg: 'exported as idTokenSignedResponseAlg (RS256 when unset)', origin: 'only administrator-made applications are exported (the others are runtime data)' },
  identityProvider: { id: 'differs between instances', createdAt: 'a time', updatedAt: 'a time' },
  rule: {
    spec: 'exported as its fields (scopes, roles, grantTypes, value)',
    createdAt: 'a time',
    createdBy: 'who added it (the audit log keeps it)',
    updatedAt: 'a time',
    enforcedAt: 'a time',
    enforcedBy: 'who enforced it (the audit log keeps it)',
  },
};

export type RegistryStorage = Pick<Storage, 'users' | 'roles' | 'scopes' | 'applications' | 'properties' | 'identityProviders' | 'rules' | 'resources' | 'registrationPolicies' | 'initialAccessTokens' | 'exchangePolicies'>;

/** A registration policy as the document lists it: every restriction, null for none. */
export function registrationPolicyEntry(p: RegistrationPolicy): DocumentRegistrationPolicy {
  const list = (v: readonly string[] | undefined): string[] | null => (v === undefined ? null : [...v]);
  return {
    name: p.name,
    description: p.description,
    grantTypes: list(p.spec.grantTypes),
    scopes: list(p.spec.scopes),
    redirectHosts: list(p.spec.redirectHosts),
    tokenFormats: list(p.spec.tokenFormats),
    authMethods: list(p.spec.authMethods),
    applicationTypes: list(p.spec.applicationTypes),
  };
}

/** Byte order (code unit order), the storage's order for text keys. */
export const byteOrder = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
const sorted = (values: readonly string[]): string[] => [...values].sort(byteOrder);

export function userEntry(u: User): DocumentUser {
  return { userName: u.userName, active: u.active, roles: sorted(u.roles), profile: (u.profile ?? {}) as DocumentUser['profile'] };
}

export function applicationEntry(app: Application, userNames: ReadonlyMap<string, string>): DocumentApplication & { clientId: string } {
  return {
    clientId: app.clientId,
    name: app.name,
    active: app.active,
    public: app.public,
    grantTypes: sorted(app.grantTypes),
    redirectUris: [...app.redirectUris],
    // latchkey.admin follows adminApi (the registry adds it): listing it would be refused.
    scopes: sorted(app.adminApi ? app.scopes.filter((s) => s !== ADMIN_SCOPE) : app.scopes),
    appUser: app.appUserId === null ? null : (userNames.get(app.appUserId) ?? null),
    accessTokenLifespan: app.accessTokenLifespan,
    refreshTokenLifespan: app.refreshTokenLifespan,
    tokenFormat: app.tokenFormat,
    logoUri: app.logoUri,
    audience: app.audience,
    jwks: app.jwks === null ? null : (JSON.parse(app.jwks) as DocumentApplication['jwks']),
    jwksUri: app.jwksUri,
    canIntrospect: app.canIntrospect,
    adminApi: app.adminApi,
    rateLimit: app.rateLimit ?? null,
    idTokenSignedResponseAlg: app.idTokenAlg ?? 'RS256',
    claimMappings: app.claimMappings === undefined || app.claimMappings === null ? null : { ...app.claimMappings },
    postLogoutRedirectUris: [...(app.postLogoutRedirectUris ?? [])],
    backchannelLogoutUri: app.backchannelLogoutUri ?? null,
    backchannelLogoutSessionRequired: app.backchannelLogoutSessionRequired ?? false,
    resources: app.resources === undefined || app.resources === null ? null : [...app.resources],
    parRequired: app.parRequired ?? false,
    dpopRequired: app.dpopRequired ?? false,
  };
}

export function identityProviderEntry(p: IdentityProvider): DocumentIdentityProvider {
  return { name: p.name, issuer: p.issuer, metadataUrl: p.metadataUrl, jwksUri: p.jwksUri, audience: p.audience, userClaim: p.userClaim, userField: p.userField, active: p.active };
}

/** A rule as the document lists it: the fields of its kind only, in the stored order (the order they were given in). */
export function ruleEntry(rule: Rule): DocumentRule & { id: string } {
  const s = rule.spec;
  return {
    id: rule.id,
    kind: rule.kind,
    target: rule.target,
    ...(s.scopes === undefined ? {} : { scopes: [...s.scopes] }),
    ...(s.roles === undefined ? {} : { roles: [...s.roles] }),
    ...(s.grantTypes === undefined ? {} : { grantTypes: [...s.grantTypes] }),
    ...(s.value === undefined ? {} : { value: s.value }),
    mode: rule.mode,
    note: rule.note,
  };
}

/** Rules by kind (in RULE_KINDS order), target, then id. */
const ruleOrder = (a: DocumentRule & { id: string }, b: DocumentRule & { id: string }): number =>
  RULE_KINDS.indexOf(a.kind as Rule['kind']) - RULE_KINDS.indexOf(b.kind as Rule['kind']) || byteOrder(a.target, b.target) || byteOrder(a.id, b.id);

export async function readRegistry(storage: RegistryStorage): Promise<RegistrySnapshot> {
  const [rows, roles, scopes, users, applications, providers, rules, resources, policies, exchangePolicies] = await Promise.all([
    storage.properties.list(),
    storage.roles.list(),
    storage.scopes.list(),
    storage.users.list(),
    storage.applications.list(),
    storage.identityProviders.list(),
    storage.rules.list(),
    storage.resources.list(),
    storage.registrationPolicies.list(),
    storage.exchangePolicies.list(),
  ]);
  const values = resolveProperties(rows);
  const userNames = new Map(users.map((u) => [u.id, u.userName]));
  return {
    properties: new Map(PROPERTY_NAMES.map((name) => [name, values[name]])),
    roles: new Map(roles.filter((r) => !r.builtIn).map((r) => [r.name, { name: r.name, description: r.description }])),
    scopes: new Map(scopes.filter((s) => !s.builtIn).map((s) => [s.name, { name: s.name, description: s.description }])),
    users: new Map(users.map((u) => [u.userName, userEntry(u)])),
    // Administrator-made applications only: clients that registered themselves (RFC 7591) or are
    // named by a client ID metadata document are runtime data, like tokens, which an export does
    // not carry and --prune never deletes (`latchkey apps list --origin registration` lists them).
    applications: new Map(
      applications.filter((a) => a.clientId !== CONSOLE_CLIENT_ID && (a.origin ?? 'admin') === 'admin').map((a) => [a.id, applicationEntry(a, userNames)]),
    ),
    identityProviders: new Map(providers.map((p) => [p.id, identityProviderEntry(p)])),
    rules: new Map(rules.map((r) => [r.id, ruleEntry(r)])),
    resources: new Map(resources.map((r) => [r.uri, { uri: r.uri, name: r.name, description: r.description, scopes: sorted(r.scopes) }])),
    registrationPolicies: new Map(policies.map((p) => [p.name, registrationPolicyEntry(p)])),
    exchangePolicies: new Map(exchangePolicies.map((p) => [p.clientId, { clientId: p.clientId, ...p.spec, subjectApplications: [...p.spec.subjectApplications], identityProviders: [...p.spec.identityProviders], resources: [...p.spec.resources], scopes: [...p.spec.scopes] }])),
    builtInRoles: new Set(roles.filter((r) => r.builtIn).map((r) => r.name)),
    builtInScopes: new Set(scopes.filter((s) => s.builtIn).map((s) => s.name)),
  };
}

/** The APIs as the document lists them (read-only), by namespace and id, routes by path then method. */
export function apiEntries(apis: readonly CompiledApi[]): DocumentApi[] {
  return [...apis]
    .sort((a, b) => byteOrder(a.namespace, b.namespace) || byteOrder(a.id, b.id))
    .map((api) => ({
      namespace: api.namespace,
      id: api.id,
      versions: [...api.versions],
      defaultVersion: api.defaultVersion,
      routes: [...api.resources]
        .sort((a, b) => byteOrder(a.template, b.template) || byteOrder(a.method, b.method))
        .map((r) => ({
          method: r.method,
          path: r.template,
          requiresAuthentication: r.security.requiresAuthentication,
          authMethods: sorted(r.security.authMethods),
          scopes: sorted(r.security.scopes),
          roles: sorted(r.security.roles),
        })),
    }));
}

/** The document `export` writes. `apis`: the APIs to list (read-only), or undefined to leave the section out. */
export function toDocument(snapshot: RegistrySnapshot, apis?: readonly CompiledApi[]): RegistryDocument {
  const properties: Record<string, boolean | number | string> = {};
  for (const [name, value] of [...snapshot.properties].sort(([a], [b]) => byteOrder(a, b))) {
    if (value !== PROPERTY_DEFINITIONS[name as keyof typeof PROPERTY_DEFINITIONS].default) properties[name] = value;
  }
  const byName = <T extends { name: string }>(m: ReadonlyMap<string, T>): T[] => [...m.values()].sort((a, b) => byteOrder(a.name, b.name));
  return {
    apiVersion: API_VERSION,
    kind: KIND,
    properties,
    roles: byName(snapshot.roles),
    scopes: byName(snapshot.scopes),
    users: [...snapshot.users.values()].sort((a, b) => byteOrder(a.userName, b.userName)),
    applications: [...snapshot.applications.values()].sort((a, b) => byteOrder(a.name, b.name) || byteOrder(a.clientId, b.clientId)),
    identityProviders: byName(snapshot.identityProviders),
    rules: [...snapshot.rules.values()].sort(ruleOrder),
    resources: [...snapshot.resources.values()].sort((a, b) => byteOrder(a.uri, b.uri)),
    registrationPolicies: byName(snapshot.registrationPolicies),
    exchangePolicies: [...snapshot.exchangePolicies.values()].sort((a, b) => byteOrder(a.clientId, b.clientId)),
    ...(apis === undefined ? {} : { apis: apiEntries(apis) }),
  };
}

/** Reads the registry and returns the document `latchkey export` writes. */
export async function exportRegistry(storage: RegistryStorage, apis?: readonly CompiledApi[]): Promise<RegistryDocument> {
  return toDocument(await readRegistry(storage), apis);
}
