import { OAuthError } from '../../errors/oauth-error.js';
import { LatchkeyError } from '../../errors/base.js';

/**
 * Where a refusal goes. Until the client and its redirect URI are known to be good, a refusal is
 * a page and never a redirect (RFC 6749 §4.1.2.1: an unchecked redirect URI would make us an open
 * redirector); after that, it goes back to the client's redirect URI as error, state and iss.
 */

/** Where an authorization response goes: the validated redirect URI, with the client's state. */
export interface Target {
  readonly redirectUri: string;
  readonly state: string | null;
  /** How the response is sent (OAuth 2.0 response modes); absent: query. */
  readonly mode?: 'query' | 'form_post';
}

/** An error that goes back to the client's (validated) redirect URI. */
export class RedirectError extends LatchkeyError {
  constructor(
    readonly error: OAuthError,
    readonly target: Target,
  ) {
    super('RedirectError', error.message, { cause: error });
  }
}

/** Page errors: 400 unless said otherwise. */
export function pageError(reason: OAuthError['reason'], description: string, status = 400, error: OAuthError['error'] = 'invalid_request'): OAuthError {
  return new OAuthError({ error, status, description, reason });
}

/** Runs checks made once the redirect URI is known good: their refusals go to the client (RFC 6749 §4.1.2.1). */
export function refusedToClient<T>(target: Target, check: () => T): T {
  try {
    return check();
  } catch (error) {
    if (error instanceof OAuthError) throw new RedirectError(error, target);
    throw error;
  }
}

/** A redirected error is answered with 303; the record says so. */
export function redirected(error: OAuthError): OAuthError {
  return new OAuthError(
    {
      error: error.error,
      status: 303,
      description: error.description,
      reason: error.reason,
      ...(error.hint === undefined ? {} : { hint: error.hint }),
      ...(error.facts === undefined ? {} : { facts: error.facts }),
    },
    error.cause,
  );
}

/** The reason of a refusal, page or redirect; undefined for anything else (a failure). */
export function reasonOf(error: unknown): OAuthError['reason'] | undefined {
  if (error instanceof OAuthError) return error.reason;
  if (error instanceof RedirectError) return error.error.reason;
  return undefined;
}
