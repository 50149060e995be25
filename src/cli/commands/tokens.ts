import type { Command } from 'commander';
import { tokenHandle } from '../../core/crypto.js';
import { findToken, revokeApplicationTokens, revokeToken, revokeUserTokens } from '../../tokens/revocation.js';
import { findApplication } from '../../registry/applications.js';
import { findUser } from '../../registry/users.js';
import type { TokenRecord } from '../../domain/model.js';
import { CliError, type CliContext } from '../context.js';
import { isoTime, renderTable } from '../table.js';
import type { CommonOptions, Kit } from './index.js';

interface ListOptions extends CommonOptions {
  readonly app?: string;
  readonly user?: string;
  readonly all?: boolean;
  readonly limit?: string;
}

/** Tokens are named by their handle (core/crypto.ts tokenHandle): a prefix of the stored key, useless to an attacker. */

function status(token: TokenRecord, now: number): string {
  return token.status === 'active' && token.expiresAt <= now ? 'expired' : token.status;
}

async function names(ctx: CliContext) {
  const [apps, users] = await Promise.all([ctx.storage.applications.list(), ctx.storage.users.list()]);
  return { apps: new Map(apps.map((a) => [a.id, a])), users: new Map(users.map((u) => [u.id, u.userName])) };
}

function parseLimit(raw: string | undefined): number {
  if (raw === undefined) return 100;
  if (!/^\d+$/.test(raw) || Number(raw) < 1) throw new CliError(`--limit takes a positive whole number (got "${raw}").`, 2);
  return Number(raw);
}

function registerList(tokens: Command, kit: Kit): void {
  const cmd = tokens
    .command('list')
    .description('List issued tokens, newest first (active ones unless --all). Tokens are stored only as hashes: the HANDLE column (tk_…) names each, as the console, the audit log and `explain` do')
    .option('--app <client-id|name>', 'only tokens of this application')
    .option('--user <name>', 'only tokens acting as this user')
    .option('--all', 'include expired, revoked and rotated tokens')
    .option('--limit <n>', 'at most this many tokens (default 100)');
  kit.common(cmd).action((opts: ListOptions) =>
    kit.withDb(opts, async (ctx, out) => {
      const now = ctx.clock.now();
      const applicationId = opts.app === undefined ? undefined : (await findApplication(ctx, opts.app)).id;
      const userId = opts.user === undefined ? undefined : (await findUser(ctx, opts.user)).id;
      const list = await ctx.storage.tokens.list({ applicationId, userId, activeOnly: !opts.all, now, limit: parseLimit(opts.limit) });
      const n = await names(ctx);
      const views = list.map((t) => ({
        handle: tokenHandle(t.hash),
        kind: t.kind,
        application: n.apps.get(t.applicationId)?.name ?? null,
        clientId: n.apps.get(t.applicationId)?.clientId ?? null,
        user: t.userId === null ? null : (n.users.get(t.userId) ?? null),
        scopes: [...t.scopes],
        grantType: t.grantType,
        issuedAt: isoTime(t.issuedAt),
        expiresAt: isoTime(t.expiresAt),
        status: status(t, now),
        revokedAt: isoTime(t.revokedAt),
      }));
      out.result(views, () =>
        renderTable(
          ['HANDLE', 'KIND', 'APPLICATION', 'CLIENT ID', 'USER', 'SCOPES', 'ISSUED', 'EXPIRES', 'STATUS'],
          views.map((v) => [v.handle, v.kind, v.application, v.clientId, v.user, v.scopes, v.issuedAt, v.expiresAt, v.status]),
          undefined,
          // The handle is what `tokens revoke` takes: it is never broken across lines.
          { whole: [0] },
        ),
      );
    }),
  );
}

interface RevokeOptions extends CommonOptions {
  readonly app?: string;
  readonly user?: string;
}

async function revokeOne(ctx: CliContext, ref: string) {
  const record = await findToken(ctx, ref);
  const result = await revokeToken(ctx, record);
  if (result.revoked === 0) {
    throw new CliError(`That ${record.kind} token [${result.handle}] is already revoked${record.kind === 'refresh' ? ', with its whole family' : ''} (status: ${record.status}).`);
  }
  return result;
}

function registerRevoke(tokens: Command, kit: Kit): void {
  const cmd = tokens
    .command('revoke')
    .argument('[token-or-handle]', 'the token\'s handle (tk_…, or a unique start of it, from `tokens list`), the token itself, or - to read either from standard input')
    .description('Revoke a token by its handle or the token itself, or every token of an application (--app) or of a user (--user); revoking a refresh token revokes every token of the same sign-in')
    .option('--app <client-id|name>', 'revoke every unexpired token issued to this application')
    .option('--user <user>', 'revoke every token of this user: its sign-ins and client-credentials tokens acting as it')
    .addHelpText('after', `
Examples:
  latchkey tokens list --app "Nightly export"      # the HANDLE column
  latchkey tokens revoke tk_018f3a2b4c5dAbCdEfGhIj
  printf %s "$TOKEN" | latchkey tokens revoke -
  latchkey tokens revoke --app "Nightly export"
  latchkey tokens revoke --user alice

Audited as token.revoke (under the handle) or token.revoke_all (under the client id or user name).
`);
  kit.common(cmd).action((ref: string | undefined, opts: RevokeOptions) =>
    kit.withDb(opts, async (ctx, out) => {
      const given = [ref !== undefined, opts.app !== undefined, opts.user !== undefined].filter(Boolean).length;
      if (given !== 1) throw new CliError('Give exactly one of: a token handle or token, --app <client-id|name>, --user <user> (see `latchkey tokens revoke --help`).', 2);
      if (opts.app !== undefined || opts.user !== undefined) {
        const all = opts.app !== undefined ? await revokeApplicationTokens(ctx, opts.app) : await revokeUserTokens(ctx, opts.user ?? '');
        const whose = all.application === undefined ? `user ${all.user ?? ''}` : `application "${all.application.name}" (client id ${all.application.clientId})`;
        out.result(all, `Revoked ${all.tokens} token${all.tokens === 1 ? '' : 's'} of ${whose} on every instance.\n`);
        return;
      }
      const value = ref === '-' ? (await kit.io.readStdin()).trim() : (ref ?? '').trim();
      const result = await revokeOne(ctx, value);
      const what = result.kind === 'refresh' ? `the refresh token and its family (${result.revoked} token${result.revoked === 1 ? '' : 's'})` : 'the access token';
      out.result(result, `Revoked ${what} [${result.handle}].\n`);
    }),
  );
}

export function registerTokens(program: Command, kit: Kit): void {
  const tokens = program.command('tokens').description('Inspect and revoke issued tokens');
  registerList(tokens, kit);
  registerRevoke(tokens, kit);
}
