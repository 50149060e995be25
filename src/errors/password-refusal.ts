import type { Facts, User } from '../domain/model.js';
import { LatchkeyError } from './base.js';
import { OAuthError } from './oauth-error.js';

/** The password-hashing queue was full (src/core/password-hashing.ts): nothing was hashed; the caller answers 503 and the client retries. */
export class PasswordHashingBusy extends LatchkeyError {
  constructor(
    readonly retryAfterSeconds: number,
    /** Checks at once and checks that may wait (the hasher's bounds), for the administrator's explanation. */
    readonly concurrency = 0,
    readonly maxQueue = 0,
  ) {
    super('PasswordHashingBusy', 'password hashing is at capacity');
  }
}

/**
 * The outcome of a password check (src/registry/lockout.ts), for the refusal below. `facts` are the
 * counts at that moment (src/errors/facts.ts), recorded with the refusal for the administrator.
 * `inactive`: the password was right but the user is inactive; the caller is answered exactly as
 * for a wrong password (the reason recorded is user.inactive).
 */
export type PasswordCheck =
  | { readonly kind: 'ok'; readonly user: User }
  | { readonly kind: 'bad_credentials'; readonly hint: string; readonly facts: Facts }
  | { readonly kind: 'inactive'; readonly hint: string; readonly facts: Facts }
  | { readonly kind: 'locked_out'; readonly retryAfterSeconds: number; readonly hint: string; readonly facts: Facts }
  | { readonly kind: 'busy'; readonly retryAfterSeconds: number; readonly facts: Facts };

/** What the caller is told while throttled: the same text for every user name, known or not. */
export function lockedOutMessage(retryAfterSeconds: number): string {
  return `Too many failed attempts. Try again in ${retryAfterSeconds} second${retryAfterSeconds === 1 ? '' : 's'}.`;
}

/** What the caller is told when the password queue is full. */
export const BUSY_MESSAGE = 'Too many sign-ins at this moment. Try again in a few seconds.';

/**
 * A failed password check (registry/lockout.ts) as the refusal of the surface that asked: `bad` is
 * that surface's wrong-credentials error (invalid_grant on the token endpoint, 401 with a challenge
 * on an API). An inactive user's right password is answered as `bad` too, byte for byte, with
 * reason user.inactive for the administrator (on a surface that shows the caller its reason code,
 * `bad`'s reason, with the facts userExists and userActive saying it). A throttled attempt keeps its error and status, with
 * reason user.locked_out and the wait in the description and Retry-After (the same for every user
 * name); a full password queue is a 503 temporarily_unavailable with Retry-After, never a 5xx failure.
 */
export function passwordRefusal(check: Exclude<PasswordCheck, { kind: 'ok' }>, bad: OAuthError, surface: { readonly showsReason?: boolean } = {}): OAuthError {
  switch (check.kind) {
    case 'bad_credentials':
      return bad.withHint(check.hint).withFacts(check.facts);
    case 'inactive':
      // A surface that shows its reason code to the caller (the hosted APIs) keeps `bad`'s: the hint and the facts tell the administrator.
      return (surface.showsReason === true ? bad : bad.withReason('user.inactive')).withHint(check.hint).withFacts(check.facts);
    case 'locked_out':
      return bad
        .withReason('user.locked_out')
        .withDescription(lockedOutMessage(check.retryAfterSeconds))
        .withHint(check.hint)
        .withHeaders({ 'retry-after': String(check.retryAfterSeconds) })
        .withFacts(check.facts);
    case 'busy':
      return new OAuthError({
        error: 'temporarily_unavailable',
        status: 503,
        reason: 'password.busy',
        description: BUSY_MESSAGE,
        hint: `The password-hashing queue was full; nothing was checked or counted. Retry-After: ${check.retryAfterSeconds} s.`,
        headers: { 'retry-after': String(check.retryAfterSeconds) },
        facts: check.facts,
      });
  }
}
