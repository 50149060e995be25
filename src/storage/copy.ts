import type { SigningKey, TokenRecord, User } from '../domain/model.js';
import type { Storage } from './types.js';

/**
 * Copies one Latchkey database into another through the storage interface, so any direction works
 * (SQLite → PostgreSQL is the main case): roles, scopes, users (with password hashes), applications
 * (with secret hashes and public keys), properties, the signing keys (still encrypted with the
 * key-encryption key: the target's instances need the same one), the identity providers, every
 * dynamic registration's policies, initial access tokens (hashes) and registrations, every
 * token that has not expired — in whatever state, so token families and refresh-token reuse
 * detection carry over — the refusal records, the audit log and the per-application usage by day
 * (what `latchkey apps posture` reads: last use, dormancy, scopes used).
 *
 * Not copied, being short-lived: authorization codes (minutes; a sign-in in progress starts over)
 * and the one-time ids of client assertions and JWT bearer grants (kept only until the assertion
 * expires), and device authorizations (minutes, as codes), pushed authorization requests (RFC 9126: a minute or so). See NOT_COPIED.
 *
 * The target must be empty, apart from what a first start of Latchkey puts there (see
 * checkTarget), so nothing is ever merged or overwritten. The source is only read.
 */

export const BUILT_IN_ROLE = 'admin';
/** The scopes a first start creates: all access, the admin API's, and the OpenID Connect scopes (registry/oidc-scopes.ts, registry/scopes.ts). */
export const BUILT_IN_SCOPES: readonly string[] = ['useraccount', 'latchkey.admin', 'openid', 'offline_access', 'profile', 'email', 'phone', 'address'];
export const ADMIN_USER = 'admin';

/** What migrate-db leaves behind on purpose, and why (printed by the command). */
export const NOT_COPIED: readonly { readonly what: string; readonly why: string }[] = [
  { what: 'authorization codes', why: 'they live for minutes; a sign-in in progress during the migration starts over' },
  { what: 'one-time ids (jti) of client assertions and JWT bearer grants', why: 'each is kept only until its assertion expires, minutes at most' },
  { what: 'device authorizations (RFC 8628 device and user codes)', why: 'they live for minutes (latchkey.device.code_lifetime); a device flow in progress during the migration starts over' },
  { what: 'pushed authorization requests (RFC 9126)', why: 'each lives for latchkey.par.lifetime (60 seconds by default); a client pushes again' },
];

export interface TableCopy {
  readonly table: 'roles' | 'scopes' | 'users' | 'applications' | 'properties' | 'signing_keys' | 'identity_providers' | 'rules' | 'resources' | 'registration_policies' | 'exchange_policies' | 'initial_access_tokens' | 'registrations' | 'tokens' | 'refusals' | 'audit' | 'usage';
  /** Rows read from the source. */
  source: number;
  /** Rows written to the target. */
  copied: number;
  /** Rows not written, and why (`note`). */
  skipped: number;
  note: string;
}

export interface CopyOptions {
  /** Tokens that expire at or before this time are not copied. */
  readonly now: number;
  /** Rows per page when reading tokens and refusals (default 1000). */
  readonly pageSize?: number;
  /** Called after each table and each page of tokens or refusals. */
  readonly onProgress?: (table: TableCopy, done: boolean) => void;
}

/** The target holds data of its own; the message lists it and says what to do. */
export class TargetNotEmptyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TargetNotEmptyError';
  }
}

/** A copy that stopped part-way: which table, what was copied so far, and the cause. */
export class CopyFailedError extends Error {
  constructor(
    readonly table: TableCopy['table'],
    readonly tables: readonly TableCopy[],
    cause: unknown,
  ) {
    super(`copying ${table} failed: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
    this.name = 'CopyFailedError';
  }
}

const plural = (n: number, one: string, many = `${one}s`): string => `${n} ${n === 1 ? one : many}`;

/**
 * Checks that `target` holds nothing but what a first start creates: the built-in role `admin`,
 * the built-in scopes `useraccount` and `latchkey.admin`, and the user `admin` — that last one only if the source has a
 * user `admin` too, which then replaces it (password hash, roles, active flag). Returns the
 * target's admin user to replace, if any. Throws TargetNotEmptyError otherwise.
 */
export async function checkTarget(source: Storage, target: Storage): Promise<User | undefined> {
  const [idps, apps, props, tokens, refusals, roles, scopes, users, rules, usageSince, resources, regPolicies, iats, registrations] = await Promise.all([
    target.identityProviders.list(),
    target.applications.list(),
    target.properties.list(),
    target.tokens.exportAll(undefined, 1),
    target.refusals.exportAll(undefined, 1),
    target.roles.list(),
    target.scopes.list(),
    target.users.list(),
    target.rules.list(),
    target.usage.firstDay(),
    target.resources.list(),
    target.registrationPolicies.list(),
    target.initialAccessTokens.list(),
    target.registrations.list(),
  ]);
  const found: string[] = [];
  // Signing keys are not checked: a first start creates one (see copyStorage, which retires it).
  if (idps.length > 0) found.push(plural(idps.length, 'identity provider'));
  if (apps.length > 0) found.push(plural(apps.length, 'application'));
  if (props.length > 0) found.push(plural(props.length, 'property', 'properties'));
  if (tokens.length > 0) found.push('tokens');
  if (rules.length > 0) found.push(plural(rules.length, 'rule'));
  if (resources.length > 0) found.push(plural(resources.length, 'registered resource'));
  if (regPolicies.length > 0) found.push(plural(regPolicies.length, 'registration policy', 'registration policies'));
  if (iats.length > 0) found.push(plural(iats.length, 'initial access token'));
  if (registrations.length > 0) found.push(plural(registrations.length, 'client registration'));
  const exchangePolicies = await target.exchangePolicies.list();
  if (exchangePolicies.length > 0) found.push(plural(exchangePolicies.length, 'token exchange policy', 'token exchange policies'));
  if (refusals.length > 0) found.push('refusal records');
  // Usage counts add up: copied onto counts of the target's own they would be summed.
  if (usageSince !== undefined) found.push('application usage counts');
  const extraRoles = roles.filter((r) => !(r.name === BUILT_IN_ROLE && r.builtIn)).map((r) => r.name);
  if (extraRoles.length > 0) found.push(`${extraRoles.length === 1 ? 'role' : 'roles'} ${extraRoles.join(', ')}`);
  const extraScopes = scopes.filter((s) => !(BUILT_IN_SCOPES.includes(s.name) && s.builtIn)).map((s) => s.name);
  if (extraScopes.length > 0) found.push(`${extraScopes.length === 1 ? 'scope' : 'scopes'} ${extraScopes.join(', ')}`);
  const admin = users.find((u) => u.userName === ADMIN_USER);
  const extraUsers = users.filter((u) => u !== admin).map((u) => u.userName);
  if (extraUsers.length > 0) found.push(`${extraUsers.length === 1 ? 'user' : 'users'} ${extraUsers.join(', ')}`);
  if (found.length > 0) {
    throw new TargetNotEmptyError(
      `The target database is not empty: it has ${found.join('; ')}. migrate-db copies into an empty database only, so that nothing is ` +
        'merged or overwritten. Point --to at a new database (for PostgreSQL: createdb <name>). The only things a target may already hold ' +
        `are those the first start of Latchkey creates: the built-in role ${BUILT_IN_ROLE}, the built-in scopes ${BUILT_IN_SCOPES.join(', ')}, the user ` +
        `${ADMIN_USER} (replaced by the source's ${ADMIN_USER}, password included) and a signing key (retired in favour of the source's keys).`,
    );
  }
  if (admin !== undefined && (await source.users.byName(ADMIN_USER)) === undefined) {
    throw new TargetNotEmptyError(
      `The target database has a user ${ADMIN_USER} (created when Latchkey first started on it) but the source has no user ${ADMIN_USER}: ` +
        'the copy would keep a user the source does not have. Point --to at a database no Latchkey has started on (for PostgreSQL: createdb <name>).',
    );
  }
  return admin;
}

/** Copies everything (see the module comment); returns what was copied, table by table. */
export async function copyStorage(source: Storage, target: Storage, options: CopyOptions): Promise<TableCopy[]> {
  const replaceAdmin = await checkTarget(source, target);
  const pageSize = options.pageSize ?? 1000;
  const tables: TableCopy[] = [];
  /** Source user id → target user id; differs only for a replaced admin. */
  const userIds = new Map<string, string>();
  const mapUser = (id: string | null): string | null => (id === null ? null : (userIds.get(id) ?? id));

  const step = async (table: TableCopy['table'], run: (t: TableCopy) => Promise<void>): Promise<void> => {
    const t: TableCopy = { table, source: 0, copied: 0, skipped: 0, note: '' };
    tables.push(t);
    try {
      await run(t);
    } catch (error) {
      throw new CopyFailedError(table, tables, error);
    }
    options.onProgress?.(t, true);
  };

  const builtInRows: readonly (readonly ['roles' | 'scopes', Storage['roles'] | Storage['scopes'], readonly string[]])[] = [['roles', target.roles, [BUILT_IN_ROLE]], ['scopes', target.scopes, BUILT_IN_SCOPES]];
  for (const [table, store, builtIns] of builtInRows) {
    await step(table, async (t) => {
      const rows = table === 'roles' ? await source.roles.list() : await source.scopes.list();
      t.source = rows.length;
      const present: string[] = [];
      for (const row of rows) {
        if (builtIns.includes(row.name) && (await store.byName(row.name)) !== undefined) {
          t.skipped += 1;
          present.push(row.name);
          t.note = `built-in ${present.join(', ')} already there`;
          continue;
        }
        await store.create(row);
        t.copied += 1;
      }
    });
  }
  await step('users', async (t) => {
    const users = await source.users.list();
    t.source = users.length;
    for (const user of users) {
      if (replaceAdmin !== undefined && user.userName === ADMIN_USER) {
        // The target's own admin (from its first start) takes the source admin's place; its id
        // stays, so tokens and applications of the source admin are pointed at it.
        await target.users.update({ ...user, id: replaceAdmin.id });
        userIds.set(user.id, replaceAdmin.id);
        t.note = `the target's ${ADMIN_USER} replaced by the source's`;
      } else {
        await target.users.create(user);
      }
      t.copied += 1;
    }
  });
  await step('applications', async (t) => {
    const apps = await source.applications.list();
    t.source = apps.length;
    for (const app of apps) {
      await target.applications.create({ ...app, appUserId: mapUser(app.appUserId) });
      t.copied += 1;
    }
  });
  await step('properties', async (t) => {
    const props = await source.properties.list();
    t.source = props.length;
    for (const p of props) {
      await target.properties.set(p.name, p.value, p.updatedAt);
      t.copied += 1;
    }
  });
  await step('signing_keys', async (t) => {
    const keys = await source.keys.list();
    t.source = keys.length;
    if (keys.length === 0) return;
    // Every key goes in as stored (times and encrypted private key unchanged) through keys.rotate,
    // which also retires any key without a retirement time already in the target. So the first
    // insertion retires the target's own key from its first start, at once (it signed nothing:
    // the target has no tokens), and the source's unretired key goes in last, retiring nothing.
    const ordered = [...keys].sort((a, b) => Number(a.retiresAt === null) - Number(b.retiresAt === null) || a.activatesAt - b.activatesAt);
    const own = (await target.keys.list()).filter((k) => k.retiresAt === null);
    const sourceKids = new Set(keys.map((k) => k.kid));
    let previous: SigningKey | undefined;
    for (const key of ordered) {
      // Only for a source holding several unretired keys: each retires the one before it when it
      // activates (published as long as the source would have published it, or for a day).
      const retire = previous === undefined || previous.retiresAt !== null
        ? { retiresAt: options.now, publishUntil: options.now }
        : { retiresAt: key.activatesAt, publishUntil: key.activatesAt + 86_400_000 };
      await target.keys.rotate(key, retire);
      previous = key;
      t.copied += 1;
    }
    const retired = own.filter((k) => !sourceKids.has(k.kid)).length;
    if (retired > 0) t.note = `copied encrypted (the target needs the same key-encryption key); the target's own ${retired === 1 ? 'key' : `${retired} keys`} retired`;
    else t.note = 'copied encrypted (the target needs the same key-encryption key)';
  });
  await step('identity_providers', async (t) => {
    const idps = await source.identityProviders.list();
    t.source = idps.length;
    for (const idp of idps) {
      await target.identityProviders.create(idp);
      t.copied += 1;
    }
  });
  await step('rules', async (t) => {
    const rules = await source.rules.list();
    t.source = rules.length;
    for (const rule of rules) {
      await target.rules.create(rule);
      t.copied += 1;
    }
  });
  await step('resources', async (t) => {
    const resources = await source.resources.list();
    t.source = resources.length;
    for (const resource of resources) {
      await target.resources.create(resource);
      t.copied += 1;
    }
  });
  await step('registration_policies', async (t) => {
    const policies = await source.registrationPolicies.list();
    t.source = policies.length;
    for (const policy of policies) {
      await target.registrationPolicies.put(policy);
      t.copied += 1;
    }
  });
  await step('exchange_policies', async (t) => {
    const policies = await source.exchangePolicies.list();
    t.source = policies.length;
    for (const policy of policies) {
      await target.exchangePolicies.put(policy);
      t.copied += 1;
    }
  });
  await step('initial_access_tokens', async (t) => {
    // Hashes only: the tokens handed out keep working against the target.
    const iats = await source.initialAccessTokens.list();
    t.source = iats.length;
    for (const iat of iats) {
      await target.initialAccessTokens.create(iat);
      t.copied += 1;
    }
  });
  await step('registrations', async (t) => {
    const records = await source.registrations.list();
    t.source = records.length;
    for (const record of records) {
      await target.registrations.create(record);
      t.copied += 1;
    }
  });
  await step('tokens', async (t) => {
    let after: string | undefined;
    for (;;) {
      const page = await source.tokens.exportAll(after, pageSize);
      if (page.length === 0) break;
      after = page[page.length - 1]?.hash;
      const live: TokenRecord[] = page.filter((tok) => tok.expiresAt > options.now).map((tok) => ({ ...tok, userId: mapUser(tok.userId) }));
      await target.tokens.importAll(live);
      t.source += page.length;
      t.copied += live.length;
      t.skipped += page.length - live.length;
      if (t.skipped > 0) t.note = 'expired tokens are not copied';
      options.onProgress?.(t, false);
    }
  });
  await step('refusals', async (t) => {
    let after: string | undefined;
    for (;;) {
      const page = await source.refusals.exportAll(after, pageSize);
      if (page.length === 0) break;
      after = page[page.length - 1]?.requestId;
      await Promise.all(page.map((r) => target.refusals.record(r)));
      t.source += page.length;
      t.copied += page.length;
      options.onProgress?.(t, false);
    }
  });
  await step('audit', async (t) => {
    let after: string | undefined;
    for (;;) {
      const page = await source.audit.exportAll(after, pageSize);
      if (page.length === 0) break;
      after = page[page.length - 1]?.id;
      await Promise.all(page.map((e) => target.audit.record(e)));
      t.source += page.length;
      t.copied += page.length;
      options.onProgress?.(t, false);
    }
  });
  await step('usage', async (t) => {
    // At most 90 days of rows per application and scope (jobs/cleanup.ts): read at once, written in pages.
    const rows = await source.usage.list({ since: 0 });
    t.source = rows.length;
    for (let i = 0; i < rows.length; i += pageSize) {
      const page = rows.slice(i, i + pageSize);
      await target.usage.add(page);
      t.copied += page.length;
      options.onProgress?.(t, false);
    }
  });
  return tables;
}
