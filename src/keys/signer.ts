import { createPrivateKey, type JsonWebKey } from 'node:crypto';
import { importJWK, jwtVerify, type JWK } from 'jose';
import jws from 'jws';
import type { SigningAlgorithm } from '../domain/model.js';

/**
 * The signer of JWT access tokens: jws (the JWS library under jsonwebtoken), synchronous, over a
 * node:crypto KeyObject.
 *
 * Why not jose, which verifies everything else: jose 6 signs through WebCrypto, which is
 * asynchronous and hops to the libuv thread pool; measured here, an ES256 access token cost about
 * 100 µs with jose, 36–38 µs with fast-jwt and 32 µs with jws, against 28–30 µs for node:crypto's
 * signature alone — and the token endpoint is the product's hot path (docs/benchmarks.md). jws
 * serialises the header and claims with JSON.stringify and base64url and signs with node:crypto;
 * signing is all it does here. Verification, JWKS and every JWT we receive stay with jose.
 *
 * Every signer proves itself before it is used: it signs a probe that jose must verify against
 * the published public key, with the exact header and claims given, or the key is refused.
 */
export async function createAccessTokenSigner(privateJwk: JWK, kid: string, alg: SigningAlgorithm, publicJwk: JWK): Promise<(claims: Readonly<Record<string, unknown>>) => string> {
  const privateKey = createPrivateKey({ key: privateJwk as JsonWebKey, format: 'jwk' });
  // One header object for every token (RFC 9068 §2.1): the claims are serialised as given.
  const header: jws.Header = { alg, typ: 'at+jwt', kid };
  const sign = (claims: Readonly<Record<string, unknown>>): string => jws.sign({ header, payload: claims, privateKey });
  const probe = { iss: 'urn:latchkey:self-check', sub: 'self-check', jti: kid, iat: 0 };
  const token = sign(probe);
  const { payload, protectedHeader } = await jwtVerify(token, await importJWK(publicJwk, alg), { typ: 'at+jwt', algorithms: [alg], issuer: probe.iss, currentDate: new Date(0) });
  if (protectedHeader.kid !== kid || protectedHeader.alg !== alg || payload.sub !== probe.sub || payload.jti !== kid || payload.iat !== probe.iat || Object.keys(protectedHeader).length !== 3) {
    throw new Error(`The signer for key ${kid} produced a token that does not verify as expected; refusing to sign with it.`);
  }
  return sign;
}

/** The JWT typ of logout tokens (Back-Channel Logout 1.0 §2.4). */
export const LOGOUT_TOKEN_TYP = 'logout+jwt';

/**
 * The signer of OpenID Connect ID tokens (tokens/id-token.ts): the same jws signing, header
 * { alg, typ: 'JWT', kid } (Core 1.0 §2 names no typ; JWT is RFC 7519's), proved like the
 * access-token signer before it is used.
 */
export async function createIdTokenSigner(privateJwk: JWK, kid: string, alg: SigningAlgorithm, publicJwk: JWK): Promise<(claims: Readonly<Record<string, unknown>>, typ?: typeof LOGOUT_TOKEN_TYP) => string> {
  const privateKey = createPrivateKey({ key: privateJwk as JsonWebKey, format: 'jwk' });
  const header: jws.Header = { alg, typ: 'JWT', kid };
  // Back-Channel Logout 1.0 §2.4: logout tokens are signed with the same key, typed logout+jwt
  // (so that neither can be used as the other).
  const logoutHeader: jws.Header = { alg, typ: LOGOUT_TOKEN_TYP, kid };
  const sign = (claims: Readonly<Record<string, unknown>>, typ?: typeof LOGOUT_TOKEN_TYP): string => jws.sign({ header: typ === undefined ? header : logoutHeader, payload: claims, privateKey });
  const probe = { iss: 'urn:latchkey:self-check', sub: 'self-check', aud: kid, iat: 0 };
  const token = sign(probe);
  const { payload, protectedHeader } = await jwtVerify(token, await importJWK(publicJwk, alg), { typ: 'JWT', algorithms: [alg], issuer: probe.iss, audience: kid, currentDate: new Date(0) });
  if (protectedHeader.kid !== kid || protectedHeader.alg !== alg || payload.sub !== probe.sub || payload.iat !== probe.iat) {
    throw new Error(`The ID token signer for key ${kid} produced a token that does not verify as expected; refusing to sign with it.`);
  }
  return sign;
}
