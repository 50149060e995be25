import { BUSY_MESSAGE, lockedOutMessage, type PasswordCheck } from '../registry/lockout.js';
import { OAuthError } from './oauth-error.js';

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
