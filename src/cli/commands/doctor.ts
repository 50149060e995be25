import type { Command } from 'commander';
import { DEFAULT_APIS, kekSettings, parseDbLocation } from '../../config/config.js';
import { runDoctor, type FilesAtRest, type Finding } from '../../diagnostics/doctor.js';
import { locateKek, type KekLocation } from '../../keys/kek.js';
import { loadApis } from '../../resource-server/load.js';
import type { ApiRouter } from '../../resource-server/router.js';
import { renderTable } from '../table.js';
import type { CommonOptions, Kit } from './index.js';

interface DoctorOptions extends CommonOptions {
  readonly apis?: string;
}

export const APIS_HELP = `folder of API modules (env LATCHKEY_APIS, default ${DEFAULT_APIS})`;

/** The APIs folder as `serve` would load it: --apis, else LATCHKEY_APIS, else ./apis (optional then). */
export async function loadApisFor(opts: { readonly apis?: string }): Promise<ApiRouter> {
  const folder = opts.apis ?? process.env.LATCHKEY_APIS ?? DEFAULT_APIS;
  return loadApis(folder, { required: opts.apis !== undefined || process.env.LATCHKEY_APIS !== undefined });
}

/**
 * The database and key files as `serve` would use them with the same --db and environment. Nothing
 * is created or read: the key's location only (a configuration error leaves the key out, and the
 * command that needs the key reports it).
 */
export function localFiles(db: string, env: NodeJS.ProcessEnv = process.env): FilesAtRest {
  const location = parseDbLocation(db);
  const database = location.kind === 'sqlite' && location.path !== ':memory:' ? location.path : undefined;
  let kek: KekLocation | undefined;
  try {
    const settings = kekSettings(env);
    kek = locateKek(db, settings.keyEncryptionKey, settings.keyEncryptionKeyFile);
  } catch {
    kek = undefined;
  }
  return { database, kek };
}

function render(findings: readonly Finding[]): string {
  if (findings.length === 0) return 'No problems found.\n';
  const table = renderTable(
    ['SEVERITY', 'FINDING', 'DETAIL'],
    // The detail names the objects to change: wrapped to the terminal, never clipped.
    findings.map((f) => [f.severity, f.id, f.detail]),
  );
  const fixes = findings.map((f, i) => `${i + 1}. ${f.id}${f.target === undefined ? '' : ` (${f.target})`}: ${f.fix}\n${f.command === undefined ? '' : `   ${f.command}\n`}`);
  const errors = findings.filter((f) => f.severity === 'error').length;
  const warnings = findings.filter((f) => f.severity === 'warning').length;
  const info = findings.length - errors - warnings;
  const summary = `${errors} error${errors === 1 ? '' : 's'}, ${warnings} warning${warnings === 1 ? '' : 's'}${info === 0 ? '' : `, ${info} for information`}.\n`;
  return `${table}\nFixes:\n${fixes.join('')}\n${summary}`;
}

export function registerDoctor(program: Command, kit: Kit): void {
  const cmd = program
    .command('doctor')
    .description('Check the configuration for problems that refuse requests or weaken security, each with the command that fixes it')
    .option('--apis <folder>', APIS_HELP)
    .addHelpText('after', `
Checks: client_credentials_disabled, application_user_missing, application_user_inactive,
redirect_uri_not_https, api_scope_unattainable, useraccount_scope_allowed, secret_rotation_due
(latchkey.secrets.rotation_days), signing_key_rotation_due (latchkey.keys.rotation_days),
admin_default_password, redirect_uri_invalid, outbound_url_refused (latchkey.outbound.allow_private_networks),
backchannel_logout_uri_refused (an application's back-channel logout URI the outbound rules refuse),
admin_api_application, jwt_bearer_can_act_as_admin, idp_user_claim_choosable, no_active_administrator,
console_application_inactive; on a SQLite database or a
key file, kek_beside_database and file_permissions_loose; rate_limit_too_low (an application's rate limit or
latchkey.rate_limit.client); application_dormant (latchkey.posture.dormant_days: an application with a working
secret and no use counted; see \`latchkey apps posture\`); rule_would_refuse (a report-only rule that matched
requests in the last 7 days), rule_no_traffic (information: one that matched none for 7 days), rule_api_not_loaded
(an enforced API requirement on an API the loaded ones do not include; see \`latchkey rules\`, docs/rules.md);
openid_without_code_flow, offline_access_without_refresh, claim_scopes_without_openid (OpenID Connect scopes an
application cannot use; docs/openid-connect.md); cimd_trusts_any_domain (client ID metadata documents accepted from
any host: latchkey.cimd.allowed_domains, latchkey.cimd.allow_unknown_domains; docs/agents-and-mcp.md);
resource_unreachable (a registered resource, RFC 8707, that every active application is limited away from, or
whose accepted scopes none of the applications that may request it is allowed; latchkey resources list);
open_registration_unlimited (latchkey.registration.mode open with latchkey.rate_limit.registration 0: anyone
registers clients without limit; see \`latchkey registration\`); device_grant_no_users (an application allows the
device grant, RFC 8628, but no active user has a password to approve devices on /oauth/device; docs/device-flow.md);
par_required_without_code_flow (PAR required, RFC 9126, of an application without the authorization_code grant;
docs/par.md); exchange_policy_orphaned (a token exchange policy of a deleted application), exchange_policy_dangling
(one naming a deleted application or identity provider), exchange_policy_missing (an application allowed
token_exchange without a policy: every exchange refused; see \`latchkey exchange policies\`, docs/token-exchange.md);
on a PostgreSQL URL with several hosts (docs/high-availability.md), database_host_unreachable (a listed host
that cannot be reached: no failover target there) and database_several_primaries (a second host takes writes
besides the one in use); in the server only (admin API, console home), metrics_unprotected.
See docs/diagnostics.md.

Exit status: 1 when any finding is an error, 0 otherwise (warnings and information only, or nothing found).

Examples:
  latchkey doctor
  latchkey doctor --json | jq '.[] | select(.severity == "error")'
`);
  kit.common(cmd).action((opts: DoctorOptions) =>
    kit.withDb(opts, async (ctx, out) => {
      const router = await loadApisFor(opts);
      const findings = await runDoctor({ storage: ctx.storage, router, clock: ctx.clock, files: localFiles(ctx.db), grants: ctx.grants });
      out.result(findings, () => render(findings));
      return findings.some((f) => f.severity === 'error') ? 1 : 0;
    }),
  );
}
