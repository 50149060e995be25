import { tokenHandle } from '../core/crypto.js';
import type { Facts, TokenRecord } from '../domain/model.js';

/**
 * The facts of a refused token that only the refusing code holds for sure (src/errors/facts.ts):
 * its handle, kind, grant, the scopes it was granted, when it was issued and when it expired or was
 * revoked, from the stored record (or, for a JWT, the earlier of the record's end and its exp). They
 * are recorded with the refusal, so the explanation keeps them after an expired record is purged.
 * Built only when refusing; the handle is a prefix of the stored key, never the token.
 */
export function tokenRecordFacts(record: TokenRecord, options: { readonly now: number; readonly notAfter?: number }): Facts {
  const end = options.notAfter === undefined ? record.expiresAt : Math.min(record.expiresAt, options.notAfter);
  return {
    token: tokenHandle(record.hash),
    tokenKind: record.kind,
    tokenGrant: record.grantType,
    tokenScopes: [...record.scopes],
    issuedAt: new Date(record.issuedAt).toISOString(),
    ...(end <= options.now ? { expiredAt: new Date(end).toISOString() } : {}),
    ...(record.revokedAt === null ? {} : { revokedAt: new Date(record.revokedAt).toISOString() }),
  };
}

/** The issue time an opaque token of ours (lk_xx_ + 12 hex digits of ms) or a JWT's jti carries, unchecked; undefined for anything else. */
export function claimedIssueTime(token: string): number | undefined {
  const m = /^lk_[a-z]{2}_([0-9a-f]{12})[A-Za-z0-9_-]{43}$/.exec(token);
  return m === null ? undefined : Number.parseInt(m[1] as string, 16);
}
