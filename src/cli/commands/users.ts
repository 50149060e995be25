import type { Command } from 'commander';
import { commandLine } from '../../core/shell.js';
import { listLocks, unlockUser, type LockView } from '../../registry/locks.js';
import { createUser, findUser, updateUser, type EndedByUpdate } from '../../registry/users.js';
import { profileClaims, type UserProfileInput } from '../../registry/user-profile.js';
import type { User } from '../../domain/model.js';
import { CliError, parseBool, parseList, readPassword } from '../context.js';
import { isoTime, renderRecord, renderTable } from '../table.js';
import type { CommonOptions, Kit } from './index.js';
import { registerDeletes } from './lifecycle.js';
import { notifier, registerUserSessions } from './user-sessions.js';
import type { SessionRecord } from '../../domain/model.js';

/** The OpenID Connect profile options (Core §5.1), the same on create and update; "" clears a field on update. */
interface ProfileOptions {
  readonly name?: string;
  readonly givenName?: string;
  readonly familyName?: string;
  readonly email?: string;
  readonly emailVerified?: string;
  readonly phone?: string;
  readonly phoneVerified?: string;
  readonly locale?: string;
  readonly zoneinfo?: string;
  readonly picture?: string;
  readonly address?: string;
}

interface CreateOptions extends CommonOptions, ProfileOptions {
  readonly passwordStdin?: boolean;
  readonly roles?: string;
  readonly inactive?: boolean;
}

interface UpdateOptions extends CommonOptions, ProfileOptions {
  readonly passwordStdin?: boolean;
  readonly issuer?: string;
  readonly roles?: string;
  readonly active?: string;
}

function profileOptions(cmd: Command): Command {
  return cmd
    .option('--name <text>', 'full name (OpenID claim name)')
    .option('--given-name <text>', 'given name (given_name)')
    .option('--family-name <text>', 'family name (family_name)')
    .option('--email <address>', 'email address (email)')
    .option('--email-verified <true|false>', 'whether the email address is verified (email_verified)')
    .option('--phone <number>', 'phone number in E.164 form, +14155550123 (phone_number)')
    .option('--phone-verified <true|false>', 'whether the phone number is verified (phone_number_verified)')
    .option('--locale <tag>', 'BCP 47 language tag, en-US (locale)')
    .option('--zoneinfo <zone>', 'IANA time zone, Europe/Paris (zoneinfo)')
    .option('--picture <url>', 'profile picture URL, https (picture)')
    .option('--address <json>', 'postal address as JSON: {"street_address":…,"locality":…,"region":…,"postal_code":…,"country":…,"formatted":…}; "" clears it');
}

/** The profile change the options give (undefined: none given). */
function profileInput(opts: ProfileOptions): UserProfileInput | undefined {
  const bool = (flag: string, v: string | undefined) => (v === undefined ? undefined : v === '' ? null : parseBool(flag, v));
  let address: UserProfileInput['address'];
  if (opts.address !== undefined) {
    if (opts.address.trim() === '') address = null;
    else {
      let parsed: unknown;
      try {
        parsed = JSON.parse(opts.address);
      } catch {
        throw new CliError('--address must be a JSON object, e.g. {"locality":"Paris","country":"France"}.', 2);
      }
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new CliError('--address must be a JSON object, e.g. {"locality":"Paris","country":"France"}.', 2);
      const a = parsed as Record<string, unknown>;
      // Claim names (street_address) and field names (streetAddress) both; unknown members are refused.
      const names: Record<string, string> = { formatted: 'formatted', street_address: 'streetAddress', streetAddress: 'streetAddress', locality: 'locality', region: 'region', postal_code: 'postalCode', postalCode: 'postalCode', country: 'country' };
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(a)) {
        const field = names[k];
        if (field === undefined) throw new CliError(`--address: unknown member "${k.slice(0, 40)}" (formatted, street_address, locality, region, postal_code, country).`, 2);
        out[field] = v;
      }
      address = out as UserProfileInput['address'];
    }
  }
  const input: UserProfileInput = {
    name: opts.name,
    givenName: opts.givenName,
    familyName: opts.familyName,
    email: opts.email,
    emailVerified: bool('--email-verified', opts.emailVerified),
    phoneNumber: opts.phone,
    phoneNumberVerified: bool('--phone-verified', opts.phoneVerified),
    locale: opts.locale,
    zoneinfo: opts.zoneinfo,
    picture: opts.picture,
    address,
  };
  return Object.values(input).every((v) => v === undefined) ? undefined : input;
}

/** A user as the CLI shows it: never the password or its hash, only whether one is set. */
export function userView(user: User) {
  return {
    id: user.id,
    userName: user.userName,
    active: user.active,
    roles: [...user.roles],
    hasPassword: user.passwordHash !== null,
    createdAt: isoTime(user.createdAt),
    updatedAt: isoTime(user.updatedAt),
    passwordChangedAt: isoTime(user.passwordChangedAt),
    // OpenID Connect Core §5.1 claim names, only those set.
    profile: profileClaims(user.profile),
  };
}

const PROFILE_LABELS: readonly (readonly [string, string])[] = [
  ['name', 'Name'], ['given_name', 'Given name'], ['family_name', 'Family name'], ['email', 'Email'], ['email_verified', 'Email verified'],
  ['phone_number', 'Phone'], ['phone_number_verified', 'Phone verified'], ['locale', 'Locale'], ['zoneinfo', 'Time zone'], ['picture', 'Picture'],
];

function addressText(a: Record<string, string>): string {
  return a.formatted ?? [a.street_address, a.locality, a.region, a.postal_code, a.country].filter((p) => p !== undefined).join(', ');
}

function userRecord(user: User): string {
  const v = userView(user);
  return renderRecord([
    ['User name', v.userName],
    ['Active', v.active],
    ['Roles', v.roles],
    ['Password set', v.hasPassword],
    ['Password changed', v.passwordChangedAt],
    ...PROFILE_LABELS.filter(([claim]) => v.profile[claim] !== undefined).map(([claim, label]) => [label, v.profile[claim]] as const),
    ...(v.profile.address === undefined ? [] : [['Address', addressText(v.profile.address as Record<string, string>)] as const]),
    ['Created', v.createdAt],
    ['Updated', v.updatedAt],
    ['Id', v.id],
  ]);
}

function createdRolesNote(created: readonly string[]): string {
  return created.length === 0 ? '' : `Created role${created.length === 1 ? '' : 's'}: ${created.join(', ')}\n`;
}

function registerCreate(users: Command, kit: Kit): void {
  const cmd = users
    .command('create')
    .argument('<name>', 'user name (letters, digits and . _ @ + -)')
    .description('Create a user (a person, or a service identity for client-credentials applications)')
    .option('--password-stdin', 'read the password from standard input (first line); without it the user has no password')
    .option('--roles <list>', 'comma-separated roles; roles that do not exist yet are created')
    .option('--inactive', 'create the user inactive');
  profileOptions(cmd).addHelpText('after', `
Examples:
  latchkey users create svc-integration --roles itil
  printf %s "$PW" | latchkey users create alice --password-stdin --roles itil,admin
  latchkey users create ada --name "Ada Lovelace" --given-name Ada --family-name Lovelace --email ada@example.com --email-verified true
`);
  kit.common(cmd).action((name: string, opts: CreateOptions) =>
    kit.withDb(opts, async (ctx, out) => {
      const password = opts.passwordStdin ? await readPassword(kit.io) : undefined;
      const { user, createdRoles } = await createUser(ctx, { userName: name, password, roles: parseList(opts.roles), active: !opts.inactive, profile: profileInput(opts) });
      out.result({ user: userView(user), createdRoles }, () => `Created user ${user.userName}.\n${createdRolesNote(createdRoles)}\n${userRecord(user)}`);
      if (password === undefined) {
        out.note(`\nNo password set: ${user.userName} cannot use the password grant, but can be an application user (--app-user).\nSet one with: printf %s "$PW" | ${commandLine(['users', 'update', user.userName, '--password-stdin'])}\n`);
      }
    }),
  );
}

function registerUpdate(users: Command, kit: Kit): void {
  const cmd = users
    .command('update')
    .argument('<name>', 'user name')
    .description("Change a user's active flag, roles, password or profile (\"\" clears a profile field)")
    .option('--active <true|false>', 'activate or deactivate the user')
    .option('--roles <list>', 'replace the roles with this comma-separated list ("" for none)')
    .option('--password-stdin', 'read a new password from standard input (first line)')
    .option('--issuer <url>', 'the instance issuer, to sign back-channel logout tokens for the sessions a change ends (default LATCHKEY_ISSUER)');
  profileOptions(cmd).addHelpText('after', `
A password, role or active change ends the user's sessions on every instance; the applications
signed in through them are sent a back-channel logout token when the issuer (--issuer or
LATCHKEY_ISSUER) and the instance's key-encryption key are known here.

Examples:
  latchkey users update svc-integration --active true
  printf %s "$PW" | latchkey users update admin --password-stdin
  latchkey users update ada --locale en-GB --zoneinfo Europe/London --phone "+44 20 7946 0958"
  latchkey users update ada --email ""    (clears the email)
`);
  kit.common(cmd).action((name: string, opts: UpdateOptions) =>
    kit.withDb(opts, async (ctx, out) => {
      const profile = profileInput(opts);
      if (opts.active === undefined && opts.roles === undefined && !opts.passwordStdin && profile === undefined) {
        throw new CliError('Nothing to change: give --active, --roles, --password-stdin or a profile field (--name, --email, ...).', 2);
      }
      const active = opts.active === undefined ? undefined : parseBool('--active', opts.active);
      const password = opts.passwordStdin ? await readPassword(kit.io) : undefined;
      const back = notifier(ctx, opts.issuer);
      const signins: SessionRecord[] = [];
      const sessionsEnded = (sessions: readonly SessionRecord[]) => signins.push(...sessions.filter((s) => s.kind === 'signin'));
      const { user, createdRoles, ended } = await updateUser({ ...ctx, sessionsEnded }, name, { active, roles: parseList(opts.roles), password, profile });
      let backchannel: string | undefined;
      if (signins.length > 0) {
        if (typeof back === 'string') backchannel = `not sent: ${back}`;
        else {
          back.sessionsEnded(signins);
          await back.idle();
          backchannel = 'sent to the applications that register a back-channel logout URI (outcome in the audit log: application.backchannel_logout)';
        }
      }
      const changed = password === undefined ? '' : ' (password changed)';
      const backNote = backchannel === undefined ? '' : `Back-channel logout: ${backchannel}.\n`;
      out.result({ user: userView(user), createdRoles, ended, ...(backchannel === undefined ? {} : { backchannel }) }, () => `Updated user ${user.userName}${changed}.\n${createdRolesNote(createdRoles)}${endedNote(ended)}${backNote}\n${userRecord(user)}`);
    }),
  );
}

const plural = (n: number, one: string, many: string) => `${n} ${n === 1 ? one : many}`;

/** What the change ended, on every instance at once (registry/users.ts updateUser). */
export function endedNote(ended: EndedByUpdate): string {
  const parts: string[] = [];
  if (ended.sessions > 0) parts.push(`ended ${plural(ended.sessions, 'session', 'sessions')} (sign-in and console)`);
  if (ended.tokens > 0) parts.push(`revoked ${plural(ended.tokens, 'token', 'tokens')} of ${plural(ended.families, 'sign-in', 'sign-ins')}`);
  return parts.length === 0 ? '' : `On every instance: ${parts.join('; ')}.\n`;
}

function registerList(users: Command, kit: Kit): void {
  const cmd = users.command('list').description('List users with their active flag and roles');
  kit.common(cmd).action((opts: CommonOptions) =>
    kit.withDb(opts, async (ctx, out) => {
      const list = await ctx.storage.users.list();
      out.result(list.map(userView), () =>
        renderTable(
          ['USER NAME', 'ACTIVE', 'ROLES', 'PASSWORD', 'CREATED'],
          list.map((u) => [u.userName, u.active, u.roles, u.passwordHash !== null ? 'set' : 'none', isoTime(u.createdAt)]),
        ),
      );
    }),
  );
}

/** A lock as `--json` prints it: times as ISO strings. */
function lockJson(v: LockView) {
  return { ...v, windowStart: isoTime(v.windowStart), lastFailureAt: isoTime(v.lastFailureAt), lockedUntil: isoTime(v.lockedUntil), expiresAt: isoTime(v.expiresAt) };
}

function registerLocks(users: Command, kit: Kit): void {
  const cmd = users
    .command('locks')
    .description('List failed password attempts being counted: per user name and source, and per user name (docs/lockout.md)')
    .option('--locked', 'only those that refuse attempts now')
    .addHelpText('after', `
A "pair" row counts one user name from one source address (an IPv6 address by its /64); a "user" row
counts one user name from all sources. Unknown user names are counted too (so the answers do not
tell which names exist). Clear a user name's counts with: latchkey users unlock <name>
`);
  kit.common(cmd).action((opts: CommonOptions & { locked?: boolean }) =>
    kit.withDb(opts, async (ctx, out) => {
      const locks = await listLocks(ctx, { lockedOnly: opts.locked === true });
      out.result(locks.map(lockJson), () =>
        locks.length === 0
          ? 'No failed password attempts are being counted.\n'
          : renderTable(
              ['USER NAME', 'LIMIT', 'SOURCE', 'FAILURES', 'LAST FAILURE', 'LOCKED UNTIL'],
              locks.map((v) => [v.userName, v.kind, v.source ?? '(all)', v.failures, isoTime(v.lastFailureAt), isoTime(v.lockedUntil) ?? '-']),
            ),
      );
    }),
  );
}

function registerUnlock(users: Command, kit: Kit): void {
  const cmd = users
    .command('unlock')
    .argument('<name>', 'user name, as it was presented (it need not exist)')
    .description("Clear a user name's failed password attempts, from every source, so it may sign in at once (audited as user.unlock)");
  kit.common(cmd).action((name: string, opts: CommonOptions) =>
    kit.withDb(opts, async (ctx, out) => {
      const { cleared, locks } = await unlockUser(ctx, name);
      const locked = locks.filter((v) => v.lockedUntil !== null).length;
      out.result({ userName: name, cleared, wasLocked: locked > 0 }, () =>
        cleared === 0 ? `No failed attempts were counted for ${name}; nothing to clear.\n` : `Cleared ${cleared} record${cleared === 1 ? '' : 's'} of failed attempts for ${name}${locked > 0 ? ` (${locked} locking)` : ''}.\n`,
      );
    }),
  );
}

function registerShow(users: Command, kit: Kit): void {
  const cmd = users.command('show').argument('<name>', 'user name').description('Show one user: active flag, roles, whether a password is set, and the OpenID Connect profile');
  kit.common(cmd).action((name: string, opts: CommonOptions) =>
    kit.withDb(opts, async (ctx, out) => {
      const user = await findUser(ctx, name);
      out.result(userView(user), () => userRecord(user));
    }),
  );
}

export function registerUsers(program: Command, kit: Kit): void {
  const users = program.command('users').description('Manage users (people and service identities)');
  registerCreate(users, kit);
  registerUpdate(users, kit);
  registerList(users, kit);
  registerShow(users, kit);
  registerLocks(users, kit);
  registerUnlock(users, kit);
  registerUserSessions(users, kit);
  registerDeletes({ users }, kit);
}
