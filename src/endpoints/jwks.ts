import type { Clock } from '../core/clock.js';
import type { NeutralResponse } from '../core/request.js';
import type { Keyring } from '../keys/keyring.js';

/**
 * How long clients may cache the JWKS (seconds). Short on purpose: a rotated-in key is published
 * DEFAULT_PREPUBLISH_MS (10 minutes, twice this) before it signs, so a client that honours this
 * max-age has the new key before the first token signed with it arrives.
 */
export const JWKS_MAX_AGE_SECONDS = 300;

const HEADERS = {
  'content-type': 'application/jwk-set+json; charset=utf-8',
  'cache-control': `public, max-age=${JWKS_MAX_AGE_SECONDS}`,
} as const;

export interface JwksEndpoint {
  handle(): Promise<NeutralResponse>;
}

/**
 * GET /oauth/jwks and /api/now/oauth/jwks: the instance's published public keys (RFC 7517 §5), the
 * keys that sign now, the next key and retired keys whose tokens may still be valid. No private
 * part ever leaves the keyring.
 */
export function createJwksEndpoint(deps: { readonly keyring: Pick<Keyring, 'publishedJwks'>; readonly clock: Clock }): JwksEndpoint {
  return {
    async handle() {
      const jwks = await deps.keyring.publishedJwks(deps.clock.now());
      return { status: 200, headers: HEADERS, body: JSON.stringify(jwks) };
    },
  };
}
