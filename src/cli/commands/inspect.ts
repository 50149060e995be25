import type { ActClaim } from '../../domain/model.js';
import { TOKEN_EXCHANGE_GRANT } from '../../grants/grant-type.js';
import type { Command } from 'commander';
import { createLatchkey } from '../../app.js';
import { inspectToken, type Inspection } from '../../diagnostics/inspect.js';
import { CliError } from '../context.js';
import { isoTime, renderRecord, renderTable } from '../table.js';
import { APIS_HELP, loadApisFor } from './doctor.js';
import type { CommonOptions, Kit } from './index.js';

interface InspectOptions extends CommonOptions {
  readonly apis?: string;
  readonly issuer?: string;
}

/** A registered client's registration in one line: source, policy, last use, reaping. */
function registrationLine(r: NonNullable<Inspection['application']>['registration']): string {
  if (r === null) return 'dynamically registered (RFC 7591); its registration record is gone';
  const reap = r.reapAt === null ? 'never reaped (reaping off)' : r.reapDue ? 'due for reaping (the next reap deletes it)' : `reaped ${isoTime(r.reapAt)} unless used`;
  return `dynamically registered (RFC 7591) by ${r.sourceText} at ${isoTime(r.registeredAt)}, policy ${r.policy ?? '(none)'}, last used ${r.lastUsedAt === null ? 'never' : isoTime(r.lastUsedAt)}, ${reap}; see latchkey apps show`;
}

/** An act chain in words: the current actor first, then those it acts after. */
function actLine(act: ActClaim): string {
  const parts: string[] = [];
  for (let a: ActClaim | undefined = act; a !== undefined; a = a.act) parts.push(`${a.sub}${a.client_id === undefined ? '' : ` (client ${a.client_id})`}`);
  return parts.join(', for ');
}

function render(i: Inspection): string {
  const status = i.valid ? 'valid' : `NOT valid: ${i.reason ?? ''}`;
  const summary = renderRecord([
    ['Token', `${i.token.preview} (${i.token.format}${i.token.kind === null ? '' : `, ${i.token.kind}`})`],
    ['Status', status],
    ...(i.explanation === null ? [] : ([['Why', i.explanation]] as const)),
    ...(i.issuer === null ? [] : ([['Issuer', i.issuer]] as const)),
    ['Handled by', i.handledBy],
    ['Found', i.found ? 'yes (a token this instance issued)' : 'no record on this instance'],
    ...(i.token.handle === null ? [] : ([['Handle', i.token.handle]] as const)),
    ['Application', i.application === null ? null : `${i.application.name} (${i.application.clientId})${i.application.active ? '' : ' INACTIVE'}`],
    ...(i.application?.origin === 'registration' ? ([['Registration', registrationLine(i.application.registration)]] as const) : []),
    ['User', i.user === null ? null : `${i.user.name}${i.user.active ? '' : ' INACTIVE'}${i.user.roles.length > 0 ? ` [roles ${i.user.roles.join(', ')}]` : ''}`],
    ['Scopes granted', i.scopes],
    ['Scopes in effect', i.effectiveScopes],
    ['Audience (resources)', i.audience === null ? '(none requested: the application\'s audience)' : i.audience],
    ['DPoP binding', i.dpopJkt === null ? '(none: a bearer token)' : `cnf.jkt ${i.dpopJkt} (usable only with DPoP proofs of this key)`],
    ...(i.act === null ? [] : ([['Acting for the user (act)', actLine(i.act)]] as const)),
    ...(i.family === null ? [] : ([['Family', `${i.family}${i.grantType === TOKEN_EXCHANGE_GRANT ? ' (the subject token\'s: revoked with it)' : ''}`]] as const)),
    ['Issued', isoTime(i.issuedAt)],
    ['Expires', isoTime(i.expiresAt)],
  ]);
  const apis =
    i.apis.length === 0
      ? 'No APIs loaded (give --apis <folder> or set LATCHKEY_APIS to check the token against them).\n'
      : renderTable(
          ['API', 'ROUTE', 'ACCEPTS', 'WHY'],
          i.apis.map((a) => [`${a.namespace}/${a.id}`, `${a.method} ${a.path}`, a.accepted, a.why]),
        );
  return `${summary}\n${apis}${resourcesNote(i)}`;
}

/** The APIs' resource identifiers and metadata URLs (RFC 8707, RFC 9728), once per API; none when no issuer is known. */
function resourcesNote(i: Inspection): string {
  // By resource: a hosted MCP server may share its <namespace>/<id> with a REST API.
  const seen = new Map<string, { api: string; metadata: string }>();
  for (const a of i.apis) if (a.resource !== null && a.resourceMetadata !== null) seen.set(a.resource, { api: `${a.namespace}/${a.id}`, metadata: a.resourceMetadata });
  if (seen.size === 0) return '';
  const lines = [...seen].map(([resource, r]) => `  ${r.api}  ${resource}\n    metadata  ${r.metadata}`);
  return `\nResource identifiers (a token for an API names it as its audience) and metadata (RFC 9728):\n${lines.join('\n')}\n`;
}

export function registerInspect(program: Command, kit: Kit): void {
  const cmd = program
    .command('inspect')
    .argument('<token>', 'an access or refresh token (opaque or JWT), or - to read it from standard input')
    .description('Explain a token: its application, user, scopes, expiry, whether it is valid now and why not, and which API routes accept it')
    .option('--apis <folder>', APIS_HELP)
    .option('--issuer <url>', 'this instance\'s issuer (env LATCHKEY_ISSUER); default: the iss of a JWT signed with one of this instance\'s keys')
    .addHelpText('after', `
The token is never printed: only its first 10 characters. Prefer standard input, which keeps it out
of the shell history:
  printf %s "$TOKEN" | latchkey inspect -
  printf %s "$TOKEN" | latchkey inspect - --json --apis ./apis

JWTs are verified with the published keys in the database (no key-encryption key is needed).
A JWT of an identity provider is validated with that provider's keys (fetched from it).
Exit status: 0 when the inspection ran (valid or not), 1 on errors.
`);
  kit.common(cmd).action((token: string, opts: InspectOptions) =>
    kit.withDb(opts, async (ctx, out) => {
      const value = token === '-' ? (await kit.io.readStdin()).trim() : token.trim();
      if (value === '') throw new CliError('No token given: pass it as the argument, or - and pipe it in.', 2);
      const router = await loadApisFor(opts);
      const issuer = opts.issuer ?? (process.env.LATCHKEY_ISSUER || undefined);
      const latchkey = createLatchkey({ storage: ctx.storage, clock: ctx.clock, router, ...(issuer === undefined ? {} : { issuer }) });
      try {
        const inspection = await inspectToken(latchkey, value);
        out.result(inspection, () => render(inspection));
      } finally {
        await latchkey.stop();
      }
    }),
  );
}
