/**
 * The audit log: who changed what, before and after, when. Every registry mutator (applications,
 * users, roles, scopes, properties, identity providers), key rotation and administrative token
 * revocation records one entry through {@link recordChange}, whoever called it — the CLI (actor
 * `cli:<os user>`), the admin API (the admin's user name) or the instance itself (`system`).
 *
 * Secrets never reach the log: secret-bearing fields (`secretHash`, `passwordHash`,
 * `privateKeyEnc`, and any field named like *secret* or *password* other than a `…At` time) are
 * removed from `before`/`after`; a changed client secret or password shows as a marker field
 * (`secret: "rotated"`, `password: "changed"`), never as a value or a hash.
 */
import { randomBytes } from 'node:crypto';
import { userInfo } from 'node:os';
import type { Clock } from '../core/clock.js';
import type { AuditEntry } from '../domain/model.js';
import type { Storage } from '../storage/types.js';

/** Who acts when nobody says: the instance itself (bootstrap, scheduled jobs). */
export const SYSTEM_ACTOR = 'system';

/**
 * What audited functions take: their usual deps, plus an optional actor. `storage.audit` is optional
 * in the type so narrow test doubles still fit; a real Storage always has it.
 */
export interface AuditDeps {
  readonly storage: Partial<Pick<Storage, 'audit'>>;
  readonly clock: Clock;
  readonly actor?: string | undefined;
}

export interface Change {
  readonly action: string;
  readonly target: string;
  /** The record before the change (null for a creation); secret fields are removed here. */
  readonly before: object | null;
  /** The record after (null for a deletion). */
  readonly after: object | null;
  /** Overrides deps.actor. */
  readonly actor?: string | undefined;
}

const SECRET_FIELDS: ReadonlySet<string> = new Set(['secretHash', 'passwordHash', 'privateKeyEnc', 'secret_hash', 'password_hash', 'private_key_enc']);
/** Any field whose name mentions a secret, password or private key, except times (`secretRotatedAt`, `passwordChangedAt`). */
const SECRET_NAME = /secret|passw|private|credential/i;
const TIME_NAME = /(At|_at)$/;

function isSecretField(name: string): boolean {
  return SECRET_FIELDS.has(name) || (SECRET_NAME.test(name) && !TIME_NAME.test(name));
}

/** A deep copy of `value` without secret-bearing fields (at any depth). */
export function redact(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(redact);
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
      if (v === undefined || isSecretField(k)) continue;
      out[k] = redact(v);
    }
    return out;
  }
  return value;
}

/** Marker fields for secrets that changed, so the log says that they did without saying what they are. */
function markers(before: object | null, after: object | null): { before: Record<string, string>; after: Record<string, string> } {
  const b = (before ?? {}) as Record<string, unknown>;
  const a = (after ?? {}) as Record<string, unknown>;
  const out = { before: {} as Record<string, string>, after: {} as Record<string, string> };
  const mark = (field: string, name: string, changed: string): void => {
    const was = b[field] ?? null;
    const is = a[field] ?? null;
    if (before === null && after !== null) {
      if (is !== null) out.after[name] = 'set';
    } else if (before !== null && after !== null && was !== is) {
      out.before[name] = was === null ? 'none' : 'set';
      out.after[name] = is === null ? 'removed' : was === null ? 'set' : changed;
    }
  };
  mark('secretHash', 'secret', 'rotated');
  mark('passwordHash', 'password', 'changed');
  return out;
}

/** JSON text of a record for the log: secret fields removed, secret markers added. */
function snapshot(record: object | null, marks: Record<string, string>): string | null {
  if (record === null) return null;
  return JSON.stringify({ ...(redact(record) as object), ...marks });
}

/** A time-ordered unique id: 12 hex digits of milliseconds, then 10 random bytes. */
export function auditId(at: number): string {
  return `${Math.max(0, Math.floor(at)).toString(16).padStart(12, '0')}${randomBytes(10).toString('hex')}`;
}

/**
 * Records one change. The change itself is already committed when this runs, so a failure to write
 * the entry is reported on stderr rather than thrown (throwing would hide a committed change, a
 * rotated secret shown only once, from its caller). Storage without an audit store records nothing.
 */
export async function recordChange(deps: AuditDeps, change: Change): Promise<void> {
  const audit = deps.storage.audit;
  if (audit === undefined) return;
  const at = deps.clock.now();
  const marks = markers(change.before, change.after);
  const entry: AuditEntry = {
    id: auditId(at),
    at,
    actor: change.actor ?? deps.actor ?? SYSTEM_ACTOR,
    action: change.action,
    target: change.target,
    before: snapshot(change.before, marks.before),
    after: snapshot(change.after, marks.after),
  };
  try {
    await audit.record(entry);
  } catch (error) {
    process.stderr.write(`latchkey: could not record the audit entry for ${entry.action} ${entry.target}: ${(error as Error).message}\n`);
  }
}

/** The design contract's name for {@link recordChange}. */
export const auditChange = recordChange;

/** The actor of CLI commands: `cli:<os user>`, or `cli` when the user cannot be told. */
export function cliActor(): string {
  try {
    const name = userInfo().username;
    return name ? `cli:${name}` : 'cli';
  } catch {
    return 'cli';
  }
}

/** One changed field of an entry: its name and the values before and after (undefined when absent). */
export interface FieldChange {
  readonly field: string;
  readonly before: unknown;
  readonly after: unknown;
}

function parse(text: string | null): Record<string, unknown> | null {
  if (text === null) return null;
  try {
    const v: unknown = JSON.parse(text);
    return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : { value: v };
  } catch {
    return { value: text };
  }
}

/** The fields that differ between an entry's before and after (every field of a creation or deletion). */
export function changedFields(entry: Pick<AuditEntry, 'before' | 'after'>): FieldChange[] {
  const b = parse(entry.before) ?? {};
  const a = parse(entry.after) ?? {};
  const fields = [...new Set([...Object.keys(b), ...Object.keys(a)])];
  return fields
    .filter((f) => JSON.stringify(b[f]) !== JSON.stringify(a[f]))
    .map((f) => ({ field: f, before: b[f], after: a[f] }));
}
