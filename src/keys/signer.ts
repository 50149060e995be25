import { createPrivateKey, type JsonWebKey } from 'node:crypto';
import { createSigner } from 'fast-jwt';
import { importJWK, jwtVerify, type JWK } from 'jose';
import type { SigningAlgorithm } from '../storage/types.js';

/**
 * The signer of JWT access tokens: fast-jwt, synchronous, over a node:crypto key.
 *
 * Why not jose, which verifies everything else: jose 6 signs through WebCrypto, which is
 * asynchronous and hops to the libuv thread pool; measured here, an ES256 access token cost about
 * 100 µs with jose and 39 µs with fast-jwt (node:crypto, synchronous), and the token endpoint
 * is the product's hot path (docs/benchmarks.md). fast-jwt is the JWT library of the Fastify
 * ecosystem (@fastify/jwt); signing is all it does here. Verification, JWKS and every JWT we
 * receive stay with jose.
 *
 * Every signer proves itself before it is used: it signs a probe that jose must verify against
 * the published public key, with the exact header and claims given, or the key is refused.
 */
export async function createAccessTokenSigner(privateJwk: JWK, kid: string, alg: SigningAlgorithm, publicJwk: JWK): Promise<(claims: Readonly<Record<string, unknown>>) => string> {
  const pem = createPrivateKey({ key: privateJwk as JsonWebKey, format: 'jwk' }).export({ type: 'pkcs8', format: 'pem' }).toString();
  // The claims carry their own iat, which fast-jwt keeps (it adds one only when absent).
  const sign = createSigner({ key: pem, algorithm: alg, kid, header: { alg, typ: 'at+jwt' } }) as (payload: Readonly<Record<string, unknown>>) => string;
  const probe = { iss: 'urn:latchkey:self-check', sub: 'self-check', jti: kid, iat: 0 };
  const token = sign(probe);
  const { payload, protectedHeader } = await jwtVerify(token, await importJWK(publicJwk, alg), { typ: 'at+jwt', algorithms: [alg], issuer: probe.iss, currentDate: new Date(0) });
  if (protectedHeader.kid !== kid || protectedHeader.alg !== alg || payload.sub !== probe.sub || payload.jti !== kid || payload.iat !== probe.iat || Object.keys(protectedHeader).length !== 3) {
    throw new Error(`The signer for key ${kid} produced a token that does not verify as expected; refusing to sign with it.`);
  }
  return sign;
}
