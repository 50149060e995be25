import { mintOpaque } from '../../core/crypto.js';
import { sessionSid, type Session } from '../../web/session.js';
import type { Application, User } from '../../domain/model.js';
import { CODE_LIFETIME_MS } from '../../grants/authorization-code.js';
import type { AuthorizeKit } from './context.js';
import type { Pending } from './pending.js';

/**
 * Authorization code issuance (RFC 6749 §4.1.2). The code binds what the token request must match:
 * the application, the user, the redirect URI if one was sent (RFC 6749 §4.1.3), the scopes and
 * the PKCE challenge (RFC 7636 §4.4). src/grants/authorization-code.ts redeems it.
 */

/** How long a code lives (defined with the grant that redeems it, which names it in its refusals' facts). */
export { CODE_LIFETIME_MS };

/** Prefix of authorization codes (the tokenKey shape: lk_xx_ + time + 256 random bits). */
export const CODE_PREFIX = 'lk_ac_';

/** The `sid` of a sign-in session (defined with the sessions, which back-channel logout reads too). */
export { sessionSid };

/** Mints and stores a code for the user's consent to a pending request; returns the code to send. */
export async function issueCode(kit: AuthorizeKit, app: Application, user: User, pending: Pending, now: number, session: Session): Promise<string> {
  // 256 random bits; only the hash is stored (RFC 6749 §10.5, §10.10).
  const { token: code, key: hash } = mintOpaque(CODE_PREFIX, now);
  await kit.deps.storage.codes.insert({
    hash,
    applicationId: app.id,
    userId: user.id,
    redirectUri: pending.rs ? pending.r : null,
    scopes: pending.s,
    codeChallenge: pending.cc,
    issuedAt: now,
    expiresAt: now + CODE_LIFETIME_MS,
    usedAt: null,
    nonce: pending.n ?? null,
    // OpenID Connect auth_time: when the user signed in (the session's start), not this consent.
    authTime: session.issuedAt,
    sid: sessionSid(session),
    claims: pending.cl === undefined ? null : { userinfo: [...pending.cl.u], idToken: [...pending.cl.i] },
    // RFC 8707: the token request may name these resources, or fewer.
    ...(pending.rsc === undefined || pending.rsc.length === 0 ? {} : { resources: [...pending.rsc] }),
    // RFC 9449 §10: the token request must prove this key.
    ...(pending.dj === undefined ? {} : { dpopJkt: pending.dj }),
  });
  return code;
}
