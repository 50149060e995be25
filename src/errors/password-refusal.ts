import type { User } from '../domain/model.js';
import { LatchkeyError } from './base.js';
import { OAuthError } from './oauth-error.js';

/** The password-hashing queue was full (src/core/password-hashing.ts): nothing was hashed; the caller answers 503 and the client retries. */
export class PasswordHashingBusy extends LatchkeyError {
  constructor(readonly retryAfterSeconds: number) {
    super('PasswordHashingBusy', 'password hashing is at capacity');
  }
}

/** The outcome of a password check (src/registry/lockout.ts), for the refusal below. */
export type PasswordCheck =
  | { readonly kind: 'ok'; readonly user: User }
  | { readonly kind: 'bad_credentials'; readonly hint: string }
  | { readonly kind: 'locked_out'; readonly retryAfterSeconds: number; readonly hint: string }
  | { readonly kind: 'busy'; readonly retryAfterSeconds: number };

/** What the caller is told while throttled: the same text for every user name, known or not. */
export function lockedOutMessage(retryAfterSeconds: number): string {
  return `Too many failed attempts. Try again in ${retryAfterSeconds} second${retryAfterSeconds === 1 ? '' : 's'}.`;
}

/** What the caller is told when the password queue is full. */
export const BUSY_MESSAGE = 'Too many sign-ins at this moment. Try again in a few seconds.';

/**
 * A failed password check (registry/lockout.ts) as the refusal of the surface that asked: `bad` is
 * that surface's wrong-credentials error (invalid_grant on the token endpoint, 401 with a challenge
 * on an API). A throttled attempt keeps its error and status, with reason user.locked_out and the
 * wait in the description and Retry-After (the same for every user name); a full password queue is
 * a 503 temporarily_unavailable with Retry-After, never a 5xx failure.
 */
export function passwordRefusal(check: Exclude<PasswordCheck, { kind: 'ok' }>, bad: OAuthError): OAuthError {
  switch (check.kind) {
    case 'bad_credentials':
      return bad.withHint(check.hint);
    case 'locked_out':
      return bad
        .withReason('user.locked_out')
        .withDescription(lockedOutMessage(check.retryAfterSeconds))
        .withHint(check.hint)
        .withHeaders({ 'retry-after': String(check.retryAfterSeconds) });
    case 'busy':
      return new OAuthError({
        error: 'temporarily_unavailable',
        status: 503,
        reason: 'password.busy',
        description: BUSY_MESSAGE,
        hint: `The password-hashing queue was full; nothing was checked or counted. Retry-After: ${check.retryAfterSeconds} s.`,
        headers: { 'retry-after': String(check.retryAfterSeconds) },
      });
  }
}
