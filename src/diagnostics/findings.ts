import type { PropertyValues } from '../registry/properties.js';
import type { CompiledApi } from '../resource-server/compile.js';
import type { CompiledMcpServer } from '../resource-server/compile-mcp.js';
import type { Application, SigningKey, User } from '../domain/model.js';

/**
 * Shared shapes and helpers of the diagnostics: the Finding every check reports, and the snapshot
 * the checks read.
 */

export type { Finding, FindingSeverity } from '../domain/finding.js';
import type { Finding } from '../domain/finding.js';

export const FINDING_IDS = [
  'client_credentials_disabled',
  'application_user_missing',
  'application_user_inactive',
  'redirect_uri_not_https',
  'redirect_uri_invalid',
  'api_scope_unattainable',
  'useraccount_scope_allowed',
  'secret_rotation_due',
  'signing_key_rotation_due',
  'admin_default_password',
  'admin_api_application',
  'no_active_administrator',
  'console_application_inactive',
  'jwt_bearer_can_act_as_admin',
  'idp_user_claim_choosable',
  'outbound_url_refused',
  'backchannel_logout_uri_refused',
  'kek_beside_database',
  'file_permissions_loose',
  'rate_limit_too_low',
  'metrics_unprotected',
  'application_dormant',
  'rule_would_refuse',
  'rule_no_traffic',
  'rule_api_not_loaded',
  'openid_without_code_flow',
  'offline_access_without_refresh',
  'claim_scopes_without_openid',
  'cimd_trusts_any_domain',
  'resource_unreachable',
  'open_registration_unlimited',
  'device_grant_no_users',
  'par_required_without_code_flow',
  'exchange_policy_orphaned',
  'exchange_policy_dangling',
  'exchange_policy_missing',
  'database_host_unreachable',
  'database_several_primaries',
] as const;

export type FindingId = (typeof FINDING_IDS)[number];

// The quoting every printed command uses lives in core/shell.ts (the console's bundle shares it).
export { commandLine, placeholder, shellWord } from '../core/shell.js';

/** Errors first, then warnings, then information; within a severity, by id then target, so output is stable. */
export function sortFindings(findings: readonly Finding[]): Finding[] {
  const rank = (f: Finding) => (f.severity === 'error' ? 0 : f.severity === 'warning' ? 1 : 2);
  return [...findings].sort((a, b) => rank(a) - rank(b) || a.id.localeCompare(b.id) || (a.target ?? '').localeCompare(b.target ?? ''));
}

/** What every check reads, loaded once. */
export interface Snapshot {
  readonly now: number;
  readonly apps: readonly Application[];
  readonly active: readonly Application[];
  readonly users: ReadonlyMap<string, User>;
  readonly usersByName: ReadonlyMap<string, User>;
  readonly scopes: ReadonlySet<string>;
  readonly props: PropertyValues;
  readonly apis: readonly CompiledApi[];
  /** The hosted MCP servers (rule targets `mcp:<ns>/<id>[/<tool>]`); absent: not known. */
  readonly mcpServers?: readonly CompiledMcpServer[];
  readonly keys: readonly SigningKey[];
}

export { appLabel, appLink } from '../domain/labels.js';
