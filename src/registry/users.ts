import type { Clock } from '../core/clock.js';
import { hashPassword, newId } from '../core/crypto.js';
import { commandLine, placeholder } from '../core/shell.js';
import type { PasswordHasher } from '../core/password-hashing.js';
import type { SessionRecord, User } from '../domain/model.js';
import type { Storage } from '../storage/types.js';
import { recordChange } from '../audit/log.js';
import { RegistryError } from './errors.js';
import { checkAdministratorKept } from './guards.js';
import { mergeProfile, type UserProfileInput } from './user-profile.js';

/** As in applications.ts: asked after the checks, before any write; it throws to stop the delete. */
type ConfirmDelete<T> = (plan: T) => Promise<void>;

/**
 * `actor` (default 'system') and `storage.audit` are for the audit log (src/audit/log.ts). A running
 * instance passes its `hasher`, so new passwords wait in the same bounded queue as sign-ins
 * (core/password-hashing.ts); the CLI, a process of its own, hashes directly.
 */
type Deps = {
  storage: Pick<Storage, 'users' | 'roles'> & Partial<Pick<Storage, 'audit'>>;
  clock: Clock;
  actor?: string | undefined;
  hasher?: Pick<PasswordHasher, 'hash'> | undefined;
  /** Told which sessions a change ended (a running instance: back-channel logout, oidc/backchannel-logout.ts). */
  sessionsEnded?: ((sessions: readonly SessionRecord[]) => void) | undefined;
};

/** Revokes every session of the user; tells deps.sessionsEnded which ones, when it listens. */
async function endSessionsOf(deps: Pick<Deps, 'sessionsEnded'> & { storage: Pick<Storage, 'sessions'> }, userId: string, now: number): Promise<number> {
  const live = deps.sessionsEnded === undefined ? [] : await deps.storage.sessions.listForUser(userId, now);
  const count = await deps.storage.sessions.revokeForUser(userId, now);
  if (live.length > 0) deps.sessionsEnded?.(live);
  return count;
}
/** Updating a user also ends what the change must end: its sessions and, on a password change or deactivation, its tokens. */
type UpdateDeps = Omit<Deps, 'storage'> & { storage: Deps['storage'] & Pick<Storage, 'sessions' | 'tokens'> };

/** What a user update ended on the server, on every instance. */
export interface EndedByUpdate {
  /** Sign-in and console sessions (a password, role or active change ends them all). */
  readonly sessions: number;
  /** Access and refresh tokens revoked (a password change or a deactivation), and the sign-ins (families) they belonged to. */
  readonly tokens: number;
  readonly families: number;
}

const hashWith = (deps: Deps, password: string): Promise<string> => (deps.hasher === undefined ? hashPassword(password) : deps.hasher.hash(password));

const NAME = /^[A-Za-z0-9][A-Za-z0-9._@+-]{0,99}$/;
/** A role name: 1-80 letters, digits, '.', '_', '-', starting with a letter or digit. */
export const ROLE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,79}$/;
/** The user name rule, for the registry document's schema (src/config-as-code/document.ts). */
export const USER_NAME = NAME;

export interface CreateUserInput {
  readonly userName: string;
  readonly password?: string | undefined;
  readonly roles?: readonly string[] | undefined;
  readonly active?: boolean | undefined;
  /** OpenID Connect §5.1 fields (registry/user-profile.ts). */
  readonly profile?: UserProfileInput | undefined;
}

export interface UpdateUserInput {
  readonly active?: boolean | undefined;
  readonly roles?: readonly string[] | undefined;
  readonly password?: string | undefined;
  /** Changes to the OpenID Connect §5.1 fields: a value sets, null or '' clears, absent keeps. */
  readonly profile?: UserProfileInput | undefined;
}

function checkPassword(password: string): void {
  if (password.length < 8) throw new RegistryError('invalid_input', 'A password needs at least 8 characters.');
  if (password.length > 1024) throw new RegistryError('invalid_input', 'A password may have at most 1024 characters.');
}

/** Normalises a role list; roles are names, created on first use (returns those it created). */
async function ensureRoles(deps: Deps, roles: readonly string[]): Promise<{ roles: string[]; created: string[] }> {
  const unique = [...new Set(roles.map((r) => r.trim()).filter((r) => r !== ''))];
  const created: string[] = [];
  for (const role of unique) {
    if (!ROLE_NAME.test(role)) {
      throw new RegistryError('invalid_input', `Role "${role}" is not a valid role name (letters, digits, '.', '_', '-').`);
    }
    if ((await deps.storage.roles.byName(role)) === undefined) {
      const record = { name: role, description: '', builtIn: false };
      const made = await deps.storage.roles.create(record).then(() => true, (error: unknown) => (ignoreConflict(error), false));
      if (made) await recordChange(deps, { action: 'role.create', target: role, before: null, after: record });
      created.push(role);
    }
  }
  return { roles: unique, created };
}

function ignoreConflict(error: unknown): void {
  if ((error as { code?: unknown }).code !== 'conflict') throw error;
}

export async function createUser(deps: Deps, input: CreateUserInput): Promise<{ user: User; createdRoles: string[] }> {
  if (!NAME.test(input.userName)) {
    throw new RegistryError(
      'invalid_input',
      `"${input.userName}" is not a valid user name: 1-100 characters, letters, digits and . _ @ + -, starting with a letter or digit.`,
    );
  }
  if (input.password !== undefined) checkPassword(input.password);
  const profile = mergeProfile(undefined, input.profile);
  if ((await deps.storage.users.byName(input.userName)) !== undefined) {
    throw new RegistryError('user_exists', `A user named "${input.userName}" already exists. Change it with: ${commandLine(['users', 'update', input.userName])}`);
  }
  const { roles, created } = await ensureRoles(deps, input.roles ?? []);
  const now = deps.clock.now();
  const user: User = {
    id: newId(),
    userName: input.userName,
    passwordHash: input.password === undefined ? null : await hashWith(deps, input.password),
    active: input.active ?? true,
    roles,
    createdAt: now,
    updatedAt: now,
    passwordChangedAt: input.password === undefined ? null : now,
    profile,
  };
  await deps.storage.users.create(user);
  await recordChange(deps, { action: 'user.create', target: user.userName, before: null, after: user });
  return { user, createdRoles: created };
}

export async function findUser(deps: { storage: Pick<Storage, 'users'> }, userName: string): Promise<User> {
  const user = await deps.storage.users.byName(userName);
  if (user === undefined) {
    throw new RegistryError('user_not_found', `No user named "${userName}". List users with \`latchkey users list\`.`);
  }
  return user;
}

/**
 * Changes a user. What the change takes away ends at once, on the server: a password change, a
 * deactivation or any role change ends every session of the user (sign-in and console), and a
 * password change or a deactivation revokes the user's tokens family by family (a deactivation also
 * the client-credentials tokens of applications acting as the user). Returns what was ended.
 */
export async function updateUser(deps: UpdateDeps, userName: string, input: UpdateUserInput): Promise<{ user: User; createdRoles: string[]; ended: EndedByUpdate }> {
  const current = await findUser(deps, userName);
  if (input.password !== undefined) checkPassword(input.password);
  const profile = mergeProfile(current.profile, input.profile);
  const ensured = input.roles === undefined ? undefined : await ensureRoles(deps, input.roles);
  const now = deps.clock.now();
  const user: User = {
    ...current,
    active: input.active ?? current.active,
    roles: ensured?.roles ?? current.roles,
    passwordHash: input.password === undefined ? current.passwordHash : await hashWith(deps, input.password),
    passwordChangedAt: input.password === undefined ? current.passwordChangedAt : now,
    profile,
    updatedAt: now,
  };
  await checkAdministratorKept(deps, current, user);
  await deps.storage.users.update(user);
  await recordChange(deps, { action: 'user.update', target: user.userName, before: current, after: user });
  const ended = await endWhatChanged(deps, current, user, now);
  return { user, createdRoles: ensured?.created ?? [], ended };
}

/** What deleting a user ended, on every instance. */
export interface DeletedUser {
  readonly user: User;
  readonly sessions: number;
  readonly tokens: number;
  readonly families: number;
}

/**
 * Deletes a user: refused while an application acts as the user (its application user: the
 * message names them) and for the last active administrator; otherwise ends every session,
 * revokes every token of the user (its own sign-ins and any client-credentials token issued as
 * it), forgets its failed sign-ins, and removes it. Audited as `user.delete`.
 */
export async function deleteUser(
  deps: Omit<Deps, 'storage'> & { storage: Deps['storage'] & Pick<Storage, 'applications' | 'sessions' | 'tokens' | 'attempts'> },
  userName: string,
  options: { readonly confirm?: ConfirmDelete<User> | undefined } = {},
): Promise<DeletedUser> {
  const current = await findUser(deps, userName);
  await checkAdministratorKept(deps, current, null);
  const acting = (await deps.storage.applications.list()).filter((a) => a.appUserId === current.id);
  if (acting.length > 0) {
    const names = acting.map((a) => `"${a.name}" (${a.clientId})`).join(', ');
    throw new RegistryError(
      'in_use',
      `User "${current.userName}" is the application user of ${acting.length === 1 ? 'the application' : `${acting.length} applications`} ${names}: ` +
        `their tokens act as this user. Give ${acting.length === 1 ? 'it' : 'each'} another application user first ` +
        `(${commandLine(['apps', 'update', acting[0]?.clientId ?? '', '--app-user', placeholder('user')])}) or delete ${acting.length === 1 ? 'it' : 'them'} (latchkey apps delete <client-id|name>).`,
      undefined,
      { dependants: { applications: acting.map((a) => ({ clientId: a.clientId, name: a.name })), cascade: false } },
    );
  }
  await options.confirm?.(current);
  const now = deps.clock.now();
  const sessions = await endSessionsOf(deps, current.id, now);
  const revoked = await deps.storage.tokens.revokeForUser(current.id, now, { includeClientCredentials: true });
  await deps.storage.attempts.clear(current.userName);
  if (!(await deps.storage.users.delete(current.id))) {
    throw new RegistryError('user_not_found', `User "${current.userName}" was deleted meanwhile.`);
  }
  await recordChange(deps, { action: 'user.delete', target: current.userName, before: current, after: { deleted: true, endedSessions: sessions, revokedTokens: revoked.tokens } });
  return { user: current, sessions, ...revoked };
}

const sameRoles = (a: readonly string[], b: readonly string[]): boolean => a.length === b.length && a.every((r) => b.includes(r));

async function endWhatChanged(deps: UpdateDeps, before: User, after: User, now: number): Promise<EndedByUpdate> {
  const passwordChanged = after.passwordChangedAt !== before.passwordChangedAt;
  const deactivated = before.active && !after.active;
  const rolesChanged = !sameRoles(before.roles, after.roles);
  const sessions = passwordChanged || deactivated || rolesChanged ? await endSessionsOf(deps, after.id, now) : 0;
  const revoked = passwordChanged || deactivated ? await deps.storage.tokens.revokeForUser(after.id, now, { includeClientCredentials: deactivated }) : { tokens: 0, families: 0 };
  const ended = { sessions, tokens: revoked.tokens, families: revoked.families };
  if (sessions > 0 || revoked.tokens > 0) {
    const why = [passwordChanged ? 'password changed' : '', deactivated ? 'deactivated' : '', rolesChanged ? 'roles changed' : ''].filter((w) => w !== '').join(', ');
    await recordChange(deps, { action: 'user.sessions_ended', target: after.userName, before: null, after: { reason: why, ...ended } });
  }
  return ended;
}
