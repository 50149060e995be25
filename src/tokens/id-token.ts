import { createHash } from 'node:crypto';
import type { Application, SigningAlgorithm } from '../domain/model.js';
import { DEFAULT_ID_TOKEN_ALGORITHM, ID_TOKEN_MAX_LIFETIME_MS, type Keyring } from '../keys/keyring.js';

/**
 * OpenID Connect ID tokens (Core 1.0 §2), signed with the instance keyring's ID token key of the
 * application's algorithm (id_token_signed_response_alg: RS256 unless the application says ES256).
 *
 * Claims: `iss` (the issuer), `sub` (the user's id: stable, never reassigned, the public subject
 * type, §8), `aud` (the client id), `exp` (`iat` + the application's access-token lifespan, at
 * most one hour), `iat`, and when known: `auth_time` (the sign-in session's start), `nonce` (from
 * the authorization request, exactly), `sid` (the sign-in session's, OpenID Connect Front/Back-
 * Channel Logout), `amr` (["pwd"]: the sign-in pages take a password), `at_hash` (§3.1.3.6: the
 * left half of the SHA-256 of the access token, base64url; SHA-256 is the hash of both RS256 and
 * ES256). `aud` holds the client id alone, so `azp` is left out (§2: needed with several audiences).
 * Beyond these, the claims a `claims` request parameter's id_token member asked for (§5.5), with
 * their values, given by the caller; they never replace the claims above.
 */

export const ID_TOKEN_MAX_LIFETIME_S = ID_TOKEN_MAX_LIFETIME_MS / 1000;

export interface IdTokenInput {
  readonly application: Application;
  readonly userId: string;
  /** The access token issued with it (for at_hash). */
  readonly accessToken: string;
  readonly now: number;
  readonly nonce?: string | null;
  /** ms since the epoch. */
  readonly authTime?: number | null;
  readonly sid?: string | null;
  readonly amr?: readonly string[] | null;
  /**
   * Claims the `claims` request parameter's id_token member asked for, with their values (Core 1.0
   * §5.5, oidc/claims.ts requestedIdTokenClaims); never overriding the claims above.
   */
  readonly claims?: Readonly<Record<string, unknown>> | null;
}

export interface IdTokenDeps {
  readonly keyring: Pick<Keyring, 'idTokenKey'>;
  readonly issuer: () => string;
}

export type MintIdToken = (input: IdTokenInput) => Promise<string>;

/** The algorithm of an application's ID tokens. */
export function idTokenAlgorithm(app: Application): SigningAlgorithm {
  return app.idTokenAlg ?? DEFAULT_ID_TOKEN_ALGORITHM;
}

/**
 * at_hash / c_hash (Core 1.0 §3.1.3.6): the left-most half of the hash of the ASCII octets of the
 * value, with the hash of the JWS algorithm (SHA-256 for RS256 and ES256), base64url.
 */
export function leftHalfHash(value: string, alg: SigningAlgorithm): string {
  // Both algorithms Latchkey signs with hash with SHA-256.
  void alg;
  const digest = createHash('sha256').update(value, 'ascii').digest();
  return digest.subarray(0, digest.length / 2).toString('base64url');
}

export function createIdTokenMinter(deps: IdTokenDeps): MintIdToken {
  return async (input) => {
    const app = input.application;
    const alg = idTokenAlgorithm(app);
    const key = await deps.keyring.idTokenKey(alg, input.now);
    const iat = Math.floor(input.now / 1000);
    const lifetime = Math.max(1, Math.min(app.accessTokenLifespan, ID_TOKEN_MAX_LIFETIME_S));
    const claims: Record<string, unknown> = {
      ...(input.claims ?? {}),
      iss: deps.issuer(),
      sub: input.userId,
      aud: app.clientId,
      exp: iat + lifetime,
      iat,
    };
    if (input.authTime !== undefined && input.authTime !== null) claims.auth_time = Math.floor(input.authTime / 1000);
    if (input.nonce !== undefined && input.nonce !== null) claims.nonce = input.nonce;
    if (input.sid !== undefined && input.sid !== null) claims.sid = input.sid;
    if (input.amr !== undefined && input.amr !== null && input.amr.length > 0) claims.amr = [...input.amr];
    claims.at_hash = leftHalfHash(input.accessToken, key.alg);
    return key.sign(claims);
  };
}
