import type { Command } from 'commander';
import { recordChange } from '../../audit/log.js';
import { sessionHandle } from '../../core/crypto.js';
import { commandLine } from '../../core/shell.js';
import type { SessionRecord } from '../../domain/model.js';
import { createKeyEncryption } from '../../keys/encryption.js';
import { locateKek, resolveKekFromEnv } from '../../keys/kek.js';
import { kekSettings } from '../../config/config.js';
import { existsSync } from 'node:fs';
import { Keyring } from '../../keys/keyring.js';
import { BackchannelLogout } from '../../oidc/backchannel-logout.js';
import { storedFetcher } from '../../registry/outbound-policy.js';
import { findUser } from '../../registry/users.js';
import { SESSION_IDLE_MS, sessionSid } from '../../web/session.js';
import { CliError, type CliContext } from '../context.js';
import { isoTime, renderTable } from '../table.js';
import type { CommonOptions, Kit } from './index.js';

/**
 * `latchkey users sessions <user>`: the user's live sessions (sign-in and console) with their sid
 * and the applications signed in through each; `--end <handle>` / `--end-all` ends them on every
 * instance, and the applications get a back-channel logout token (OpenID Connect Back-Channel
 * Logout 1.0) when this command can sign one: the key-encryption key as `serve` finds it and the
 * issuer (--issuer or LATCHKEY_ISSUER), since the token's iss must be the instance's.
 */

interface SessionsOptions extends CommonOptions {
  readonly end?: string;
  readonly endAll?: boolean;
  readonly issuer?: string;
}

interface SessionLine {
  readonly handle: string;
  readonly kind: SessionRecord['kind'];
  readonly sid: string | null;
  readonly startedAt: string | null;
  readonly lastSeenAt: string | null;
  readonly expiresAt: string | null;
  readonly parent: string | null;
  readonly applications: readonly { readonly clientId: string; readonly name: string }[];
}

async function lineOf(ctx: CliContext, s: SessionRecord): Promise<SessionLine> {
  const applications: { clientId: string; name: string }[] = [];
  if (s.kind === 'signin') {
    for (const id of await ctx.storage.sessions.clientsOf(sessionSid(s))) {
      const app = await ctx.storage.applications.byId(id);
      if (app !== undefined) applications.push({ clientId: app.clientId, name: app.name });
    }
  }
  return {
    handle: sessionHandle(s.id),
    kind: s.kind,
    sid: s.kind === 'signin' ? sessionSid(s) : null,
    startedAt: isoTime(s.createdAt),
    lastSeenAt: isoTime(s.lastSeenAt),
    expiresAt: isoTime(s.expiresAt),
    parent: s.parentId === null ? null : sessionHandle(s.parentId),
    applications,
  };
}

/** A back-channel notifier for this process, or why there is none. */
/** The back channel of the instance this CLI opened, or why it cannot send (a string for the output). */
export function notifier(ctx: CliContext, issuerFlag: string | undefined): BackchannelLogout | string {
  const issuer = (issuerFlag ?? process.env.LATCHKEY_ISSUER ?? '').replace(/\/+$/, '');
  if (issuer === '') return 'no issuer is known here: give --issuer (or LATCHKEY_ISSUER) as `serve` has it';
  let kek: string;
  try {
    // Never create a key file here: a new key could not read the signing keys anyway.
    const where = locateKek(ctx.db, kekSettings(process.env).keyEncryptionKey, kekSettings(process.env).keyEncryptionKeyFile);
    if (where.source === 'ephemeral' || (where.source === 'file' && (where.file === undefined || !existsSync(where.file)))) return 'no key-encryption key is stored for this database';
    kek = resolveKekFromEnv(ctx.db).kek;
  } catch (error) {
    return `the key-encryption key is not available (${error instanceof Error ? error.message : String(error)})`;
  }
  const keyring = new Keyring({ storage: ctx.storage, clock: ctx.clock, encryption: createKeyEncryption(kek) });
  return new BackchannelLogout({ storage: ctx.storage, keyring, issuer: () => issuer, fetcher: storedFetcher(ctx.storage), clock: ctx.clock, logger: { info() {}, warn() {}, error() {} } });
}

export function registerUserSessions(users: Command, kit: Kit): void {
  const cmd = users
    .command('sessions')
    .argument('<name>', 'user name')
    .description("List a user's live sessions (sign-in and console) with their sid and the applications signed in through each; end one or all")
    .option('--end <handle>', 'end this session (a sign-in session with the console sessions started from it)')
    .option('--end-all', 'end every session of the user')
    .option('--issuer <url>', 'the instance issuer, to sign back-channel logout tokens (default LATCHKEY_ISSUER)')
    .addHelpText('after', `
Ending a session signs that browser out at its next request on every instance; the applications
signed in through it are sent a back-channel logout token (when they register a back-channel
logout URI), with the issuer and key-encryption key of the instance. Tokens already issued stay
valid: revoke them with latchkey tokens revoke.

Examples:
  latchkey users sessions alice
  latchkey users sessions alice --end 3f9a1c0b7d2e --issuer https://latchkey.example.com
  latchkey users sessions alice --end-all --json
`);
  kit.common(cmd).action((name: string, opts: SessionsOptions) =>
    kit.withDb(opts, async (ctx, out) => {
      if (opts.end !== undefined && opts.endAll === true) throw new CliError('Give either --end <handle> or --end-all, not both.', 2);
      const user = await findUser(ctx, name);
      const now = ctx.clock.now();
      // As the admin API lists them: live, and not idle past a sign-in session's idle timeout.
      const live = (await ctx.storage.sessions.listForUser(user.id, now)).filter((s) => s.kind !== 'signin' || now - s.lastSeenAt < SESSION_IDLE_MS);
      if (opts.end === undefined && opts.endAll !== true) {
        const lines = await Promise.all(live.map((s) => lineOf(ctx, s)));
        out.result({ userName: user.userName, sessions: lines }, () =>
          lines.length === 0
            ? `${user.userName} has no live sessions.\n`
            : `${renderTable(
                ['SESSION', 'KIND', 'SID', 'STARTED', 'LAST SEEN', 'APPLICATIONS'],
                lines.map((l) => [l.handle, l.kind, l.sid ?? '-', l.startedAt, l.lastSeenAt, l.applications.length === 0 ? '-' : l.applications.map((a) => a.name).join(', ')]),
                undefined,
                // The handle and the sid are copied whole (to --end, to a log search): never wrapped.
                { whole: [0, 2] },
              )}\nEnd one: ${commandLine(['users', 'sessions', user.userName, '--end', lines[0]?.handle ?? '<handle>'])}\n`,
        );
        return;
      }
      const chosen = opts.endAll === true ? live : live.filter((s) => sessionHandle(s.id) === opts.end);
      if (chosen.length === 0) throw new CliError(`User ${user.userName} has no live session with the handle "${String(opts.end).slice(0, 40)}". List them with: ${commandLine(['users', 'sessions', user.userName])}`);
      const ids = new Set(chosen.map((s) => s.id));
      for (const s of live) if (s.parentId !== null && ids.has(s.parentId)) ids.add(s.id);
      const ended: SessionRecord[] = [];
      for (const s of live) if (ids.has(s.id) && (await ctx.storage.sessions.revoke(s.id, now))) ended.push(s);
      const handles = ended.map((s) => sessionHandle(s.id));
      if (ended.length > 0) await recordChange(ctx, { action: 'user.sessions_ended', target: user.userName, before: null, after: { reason: 'ended by an administrator', sessions: ended.length, handles } });
      const back = notifier(ctx, opts.issuer);
      const signins = ended.filter((s) => s.kind === 'signin');
      let backchannel: string;
      if (typeof back === 'string') backchannel = signins.length === 0 ? 'none needed' : `not sent: ${back}`;
      else {
        back.sessionsEnded(signins);
        await back.idle();
        backchannel = signins.length === 0 ? 'none needed' : 'sent to the applications that register a back-channel logout URI (outcome in the audit log: application.backchannel_logout)';
      }
      out.result({ userName: user.userName, ended: ended.length, handles, backchannel }, () => `Ended ${ended.length} session${ended.length === 1 ? '' : 's'} of ${user.userName} on every instance (${handles.join(', ')}).\nBack-channel logout: ${backchannel}.\n`);
    }),
  );
}
