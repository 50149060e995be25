import type { Command } from 'commander';
import { recordChange } from '../../audit/log.js';
import { tokenHandle } from '../../core/crypto.js';
import { unverifiedRecordKey } from '../../tokens/jwt.js';
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

/** Tokens are identified by the start of their hash: enough to tell them apart, useless to an attacker. */

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
    .description('List issued tokens, newest first (active ones unless --all). Tokens are stored only as hashes: the ID column is the start of the hash')
    .option('--app <client-id>', 'only tokens of this application')
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
        id: tokenHandle(t.hash),
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
          ['ID', 'KIND', 'APPLICATION', 'CLIENT ID', 'USER', 'SCOPES', 'ISSUED', 'EXPIRES', 'STATUS'],
          views.map((v) => [v.id, v.kind, v.application, v.clientId, v.user, v.scopes, v.issuedAt, v.expiresAt, v.status]),
        ),
      );
    }),
  );
}

async function revoke(ctx: CliContext, token: string) {
  const key = unverifiedRecordKey(token);
  const record = key === undefined ? undefined : await ctx.storage.tokens.byHash(key);
  if (record === undefined) {
    throw new CliError('No token issued by this instance matches. Check that the whole token was given (opaque tokens start with lk_at_ or lk_rt_; JWT access tokens with eyJ).');
  }
  const now = ctx.clock.now();
  const revoked = record.kind === 'refresh' ? await ctx.storage.tokens.revokeFamily(record.familyId, now) : (await ctx.storage.tokens.revoke(record.hash, now)) ? 1 : 0;
  if (revoked === 0) {
    throw new CliError(`That ${record.kind} token is already revoked${record.kind === 'refresh' ? ', with its whole family' : ''} (status: ${record.status}).`);
  }
  // Audited by handle (the start of the stored hash), never by the token.
  await recordChange(ctx, {
    action: 'token.revoke',
    target: tokenHandle(record.hash),
    before: { kind: record.kind, status: record.status },
    after: { kind: record.kind, status: 'revoked', revoked },
  });
  return { id: tokenHandle(record.hash), kind: record.kind, revoked, family: record.kind === 'refresh' ? record.familyId : null };
}

function registerRevoke(tokens: Command, kit: Kit): void {
  const cmd = tokens
    .command('revoke')
    .argument('<token>', 'the access or refresh token, or - to read it from standard input')
    .description('Revoke a token; revoking a refresh token revokes every token descended from the same grant')
    .addHelpText('after', `
Example:
  printf %s "$TOKEN" | latchkey tokens revoke -
`);
  kit.common(cmd).action((token: string, opts: CommonOptions) =>
    kit.withDb(opts, async (ctx, out) => {
      const value = token === '-' ? (await kit.io.readStdin()).trim() : token.trim();
      const result = await revoke(ctx, value);
      const what = result.kind === 'refresh' ? `the refresh token and its family (${result.revoked} token${result.revoked === 1 ? '' : 's'})` : 'the access token';
      out.result(result, `Revoked ${what} [id ${result.id}].\n`);
    }),
  );
}

export function registerTokens(program: Command, kit: Kit): void {
  const tokens = program.command('tokens').description('Inspect and revoke issued tokens');
  registerList(tokens, kit);
  registerRevoke(tokens, kit);
}
