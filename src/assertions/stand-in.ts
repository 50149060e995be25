import { generateKeyPair, type CryptoKey } from 'jose';
import { ALLOWED_ALGORITHMS } from './keys.js';
import { peekJwt, verifyJwt } from './verify.js';

/**
 * A signature check with a key nobody holds: what a refusal spends when there is no registered key
 * to check a JWT with (no application has the client id or iss, or it has no key matching the
 * JWT), so that it costs what a known client's bad signature does — one verification with the
 * JWT's own algorithm — whatever the registry holds. The answer is a refusal either way; the
 * result is ignored. One stand-in key per algorithm, made on first use (at most one per accepted
 * algorithm), kept in memory only.
 */
const standIns = new Map<string, Promise<CryptoKey | undefined>>();

function standInKey(alg: string): Promise<CryptoKey | undefined> {
  let key = standIns.get(alg);
  if (key === undefined) {
    key = generateKeyPair(alg).then(
      (pair) => pair.publicKey,
      () => undefined,
    );
    standIns.set(alg, key);
  }
  return key;
}

/** Verifies `token` with the stand-in key of its algorithm; never throws. */
export async function spendSignatureCheck(token: string): Promise<void> {
  let alg: string | undefined;
  try {
    alg = peekJwt(token).alg;
  } catch {
    return;
  }
  // A JWT that is not signed with an accepted algorithm was refused before any lookup (assertion.ts).
  if (alg === undefined || !ALLOWED_ALGORITHMS.includes(alg)) return;
  const key = await standInKey(alg);
  if (key === undefined) return;
  await verifyJwt(token, { getKey: () => key, now: Date.now(), skewSeconds: 0, required: [] }).catch(() => undefined);
}
