import type { Clock } from '../core/clock.js';
import { hashPassword, newId } from '../core/crypto.js';
import type { PasswordHasher } from '../core/password-hashing.js';
import type { Storage, User } from '../storage/types.js';
import { recordChange } from '../audit/log.js';
import { RegistryError } from './errors.js';

/**
 * `actor` (default 'system') and `storage.audit` are for the audit log (src/audit/log.ts). A running
 * instance passes its `hasher`, so new passwords wait in the same bounded queue as sign-ins
 * (core/password-hashing.ts); the CLI, a process of its own, hashes directly.
 */
type Deps = { storage: Pick<Storage, 'users' | 'roles'> & Partial<Pick<Storage, 'audit'>>; clock: Clock; actor?: string | undefined; hasher?: Pick<PasswordHasher, 'hash'> | undefined };

const hashWith = (deps: Deps, password: string): Promise<string> => (deps.hasher === undefined ? hashPassword(password) : deps.hasher.hash(password));

const NAME = /^[A-Za-z0-9][A-Za-z0-9._@+-]{0,99}$/;
const ROLE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,79}$/;

export interface CreateUserInput {
  readonly userName: string;
  readonly password?: string | undefined;
  readonly roles?: readonly string[] | undefined;
  readonly active?: boolean | undefined;
}

export interface UpdateUserInput {
  readonly active?: boolean | undefined;
  readonly roles?: readonly string[] | undefined;
  readonly password?: string | undefined;
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
    if (!ROLE.test(role)) {
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
  if ((await deps.storage.users.byName(input.userName)) !== undefined) {
    throw new RegistryError('user_exists', `A user named "${input.userName}" already exists. Change it with \`latchkey users update ${input.userName}\`.`);
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

export async function updateUser(deps: Deps, userName: string, input: UpdateUserInput): Promise<{ user: User; createdRoles: string[] }> {
  const current = await findUser(deps, userName);
  if (input.password !== undefined) checkPassword(input.password);
  const ensured = input.roles === undefined ? undefined : await ensureRoles(deps, input.roles);
  const now = deps.clock.now();
  const user: User = {
    ...current,
    active: input.active ?? current.active,
    roles: ensured?.roles ?? current.roles,
    passwordHash: input.password === undefined ? current.passwordHash : await hashWith(deps, input.password),
    passwordChangedAt: input.password === undefined ? current.passwordChangedAt : now,
    updatedAt: now,
  };
  await deps.storage.users.update(user);
  await recordChange(deps, { action: 'user.update', target: user.userName, before: current, after: user });
  return { user, createdRoles: ensured?.created ?? [] };
}
