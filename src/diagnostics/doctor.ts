import type { Clock } from '../core/clock.js';
import type { Keyring } from '../keys/keyring.js';
import { resolveProperties } from '../registry/properties.js';
import { ALL_ACCESS_SCOPE } from '../registry/scopes.js';
import type { CompiledApi } from '../resource-server/compile.js';
import { consoleApplicationInactive, noActiveAdministrator } from './checks-administration.js';
import { adminApiApplications, userChosenIdpClaims } from './checks-authority.js';
import { defaultPasswords, secretRotation, signingKeyRotation } from './checks-credentials.js';
import { outboundUrls } from './checks-outbound.js';
import { fileChecks, type FilesAtRest } from './checks-files.js';
import { databaseHostChecks } from './checks-database.js';
import { redirectUris } from './checks-redirect-uris.js';
import { openIdSettings } from './checks-oidc.js';
import { parSettings } from './checks-par.js';
import { cimdTrust, openRegistration } from './checks-cimd.js';
import { unreachableResources } from './checks-resources.js';
import { exchangePolicyFindings } from '../grants/token-exchange.js';
import { metricsUnprotected, rateLimitsTooLow } from './checks-limits.js';
import { dormantApplications, loadUsage } from './checks-usage.js';
import { loadRules, ruleFindings } from './checks-rules.js';
import type { ApiRouter } from '../resource-server/router.js';
import type { Storage } from '../storage/types.js';
import { BUILT_IN_GRANTS, grantWarnings } from '../grants/index.js';
import type { GrantDescriptor } from '../grants/types.js';
import { appLabel, appLink, commandLine, placeholder, shellWord, sortFindings, type Finding, type Snapshot } from './findings.js';

export { FINDING_IDS, type Finding, type FindingId, type FindingSeverity } from './findings.js';
export type { FilesAtRest } from './checks-files.js';

export { SECRET_ROTATION_PROPERTY } from './checks-credentials.js';

export interface DoctorDeps {
  /** Without `usage`, the usage checks are skipped; without `rules`, `activity` and `refusals`, the rule checks. */
  readonly storage: Pick<Storage, 'applications' | 'users' | 'scopes' | 'properties' | 'keys' | 'identityProviders'> & Partial<Pick<Storage, 'usage' | 'rules' | 'activity' | 'refusals' | 'resources' | 'exchangePolicies' | 'stats'>>;
  readonly router: Pick<ApiRouter, 'list'> & Partial<Pick<ApiRouter, 'mcpServers'>>;
  readonly clock: Clock;
  /** Accepted for the contract; the keys are read from storage (the keyring adds nothing a check needs). */
  readonly keyring?: Pick<Keyring, 'keys'>;
  /** Where the database and key files are, when they are local files: their checks run only then (checks-files.ts). */
  readonly files?: FilesAtRest | undefined;
  /** The grant catalogue, whose checks run for each active application (default the built-in grants). */
  readonly grants?: readonly GrantDescriptor[] | undefined;
  /** Where clients reach this instance (its issuer), when the doctor runs in the server: /metrics is checked against it. */
  readonly listening?: string | undefined;
}

/**
 * Runs every configuration check and returns the problems found, errors first (then warnings, then
 * findings for information). Reads only: a
 * finding's `command` is for the operator to run.
 */
export async function runDoctor(deps: DoctorDeps): Promise<Finding[]> {
  const now = deps.clock.now();
  const [apps, users, scopes, rows, keys, providers, usage, rules] = await Promise.all([
    deps.storage.applications.list(),
    deps.storage.users.list(),
    deps.storage.scopes.list(),
    deps.storage.properties.list(),
    deps.storage.keys.list(),
    deps.storage.identityProviders.list(),
    loadUsage(deps.storage, now),
    loadRules(deps.storage, deps.clock),
  ]);
  // Without `resources`, the resource check is skipped (RFC 8707 registered resources).
  const registered = deps.storage.resources === undefined ? [] : await deps.storage.resources.list();
  // Without `exchangePolicies`, the token exchange policy check is skipped (RFC 8693).
  const exchangePolicies = deps.storage.exchangePolicies === undefined ? [] : await deps.storage.exchangePolicies.list();
  const s: Snapshot = {
    now,
    apps,
    active: apps.filter((a) => a.active),
    users: new Map(users.map((u) => [u.id, u])),
    usersByName: new Map(users.map((u) => [u.userName, u])),
    scopes: new Set(scopes.map((x) => x.name)),
    props: resolveProperties(rows),
    apis: deps.router.list(),
    ...(deps.router.mcpServers === undefined ? {} : { mcpServers: deps.router.mcpServers() }),
    keys,
  };
  return sortFindings([
    ...grantFindings(s, deps.grants ?? BUILT_IN_GRANTS),
    ...redirectUris(s),
    ...openIdSettings(s),
    ...parSettings(s),
    ...unattainableScopes(s),
    ...allAccessScope(s),
    ...secretRotation(s),
    ...signingKeyRotation(s),
    ...defaultPasswords(s),
    ...noActiveAdministrator(s),
    ...consoleApplicationInactive(s),
    ...adminApiApplications(s),
    ...userChosenIdpClaims(providers),
    ...outboundUrls(s, providers),
    ...(deps.files === undefined ? [] : fileChecks(deps.files)),
    ...databaseHostChecks(deps.storage.stats?.hosts?.()),
    ...rateLimitsTooLow(s),
    ...metricsUnprotected(s, deps.listening),
    ...cimdTrust(s),
    ...unreachableResources(s, registered),
    ...openRegistration(s),
    ...exchangePolicyFindings(exchangePolicies, apps, providers),
    ...dormantApplications(s, usage),
    ...ruleFindings(s, rules),
  ]);
}

/** The findings of each grant about the instance, then about each active application (the same checks as the CLI's warnings). */
function grantFindings(s: Snapshot, catalogue: readonly GrantDescriptor[]): Finding[] {
  const instance = catalogue.flatMap((g) => {
    const apps = s.active.filter((a) => a.grantTypes.includes(g.grantType));
    return apps.length === 0 ? [] : (g.instanceChecks?.({ applications: apps, users: [...s.users.values()], properties: s.props }) ?? []);
  });
  return [...instance, ...s.active.flatMap((app) => {
    const appUser = app.appUserId === null ? undefined : s.users.get(app.appUserId);
    const input = { application: app, appUser, properties: s.props, userNamed: (name: string) => s.usersByName.get(name) };
    return grantWarnings(catalogue, input).flatMap((w) => (w.finding === undefined ? [] : [{ ...w.finding, target: app.clientId }]));
  })];
}

function routeOf(api: CompiledApi, template: string): string {
  return `/api/${api.namespace}/${api.id}${template === '/' ? '' : template}`;
}

function unattainableScopes(s: Snapshot): Finding[] {
  if (s.active.some((a) => a.scopes.includes(ALL_ACCESS_SCOPE))) return [];
  const granted = new Set(s.active.flatMap((a) => a.scopes));
  const out: Finding[] = [];
  for (const api of s.apis) {
    // One finding per API and set of required scopes, naming the routes that need it.
    const groups = new Map<string, string[]>();
    for (const r of api.resources) {
      const sec = r.security;
      // Scopes apply to bearer tokens only (Basic callers act with all of the user's access).
      if (!sec.requiresAuthentication || !sec.authMethods.includes('bearer') || sec.scopes.length === 0) continue;
      if (sec.scopes.some((x) => granted.has(x))) continue;
      const key = [...sec.scopes].sort().join(' ');
      groups.set(key, [...(groups.get(key) ?? []), `${r.method} ${routeOf(api, r.template)}`]);
    }
    for (const [key, routes] of groups) {
      const needed = key.split(' ');
      const scope = needed[0] as string;
      const missing = needed.filter((x) => !s.scopes.has(x));
      const create = missing.includes(scope) ? `${commandLine(['scopes', 'create', scope])} && ` : '';
      out.push({
        id: 'api_scope_unattainable',
        severity: 'warning',
        title: 'No application can get a token this API accepts',
        detail:
          `API ${api.namespace}/${api.id} requires one of the scopes ${needed.join(', ')} on ${routes.join(', ')}, but no active application is allowed any of them (nor ${ALL_ACCESS_SCOPE}), so every bearer token is refused there (api.scope_missing).` +
          (missing.length > 0 ? ` The scope${missing.length === 1 ? '' : 's'} ${missing.join(', ')} ${missing.length === 1 ? 'does' : 'do'} not exist in the registry.` : ''),
        fix: `Allow the calling application the scope ${scope}: ${missing.includes(scope) ? 'create the scope, then ' : ''}add it to the application's scopes, keeping the ones it has (--scopes replaces the list).`,
        // <its-current-scopes> is left for the operator; the scope itself (from an API module) is quoted.
        command: `${create}${commandLine(['apps', 'update', placeholder('client-id'), '--scopes'])} <its-current-scopes>,${shellWord(scope)}`,
        link: '#/apis',
        target: `${api.namespace}/${api.id}`,
      });
    }
  }
  return out;
}

function allAccessScope(s: Snapshot): Finding[] {
  return s.active
    .filter((a) => a.scopes.includes(ALL_ACCESS_SCOPE))
    .map((app) => {
      const rest = app.scopes.filter((x) => x !== ALL_ACCESS_SCOPE);
      return {
        id: 'useraccount_scope_allowed',
        severity: 'warning' as const,
        title: `An application is allowed the all-access scope ${ALL_ACCESS_SCOPE}`,
        detail: `Application ${appLabel(app)} is allowed ${ALL_ACCESS_SCOPE}, which satisfies every API's scope requirement: its tokens reach every API its user can.`,
        fix: `Remove ${ALL_ACCESS_SCOPE} and allow only the scopes of the APIs the application calls.`,
        command: commandLine(['apps', 'update', app.clientId, '--scopes', rest.join(',')]),
        link: appLink(app),
        target: app.clientId,
      };
    });
}
