/**
 * Revocation by administrators (`latchkey tokens revoke`, the admin API, the console): one token
 * by its handle (core/crypto.ts tokenHandle) or by the token itself, every token of an application,
 * every token of a user. Clients revoke their own tokens at the RFC 7009 endpoint
 * (endpoints/revoke.ts) instead. Each change is audited under the token's handle, the client id or
 * the user name, never under a token; the storage bumps the change version, so every instance
 * refuses the tokens within its poll interval.
 */
import type { Clock } from '../core/clock.js';
import { HANDLE_PREFIX, handleKeyPrefixes, tokenHandle } from '../core/crypto.js';
import type { TokenKind, TokenRecord } from '../domain/model.js';
import type { Storage, UserRevocation } from '../storage/types.js';
import { recordChange } from '../audit/log.js';
import { findApplication } from '../registry/applications.js';
import { RegistryError } from '../registry/errors.js';
import { findUser } from '../registry/users.js';
import { unverifiedRecordKey } from './jwt.js';

type Deps = { storage: Pick<Storage, 'tokens' | 'applications' | 'users'> & Partial<Pick<Storage, 'audit'>>; clock: Clock; actor?: string | undefined };

/**
 * The stored token a reference names: a handle (`tk_…`, or a unique start of one of at least 4
 * characters after `tk_`) or the token itself (opaque, or one of our JWTs by its jti; for tools
 * that already hold the database, so the JWT's signature is not checked).
 */
export async function findToken(deps: { storage: Pick<Storage, 'tokens'> }, ref: string): Promise<TokenRecord> {
  const value = ref.trim();
  if (value.startsWith(HANDLE_PREFIX)) {
    const prefixes = handleKeyPrefixes(value);
    if (prefixes.length === 0) {
      throw new RegistryError('invalid_input', `"${value.slice(0, 40)}" is not a token handle: tk_ followed by 4 to 22 letters, digits, '_' or '-' (as \`latchkey tokens list\` shows them).`, 'handle');
    }
    const found = (await Promise.all(prefixes.map((p) => deps.storage.tokens.byKeyPrefix(p, 2)))).flat();
    if (found.length === 0) throw new RegistryError('token_not_found', `No token has the handle ${value}. List them with \`latchkey tokens list --all\`.`, 'handle');
    if (found.length > 1) throw new RegistryError('token_ambiguous', `More than one token has a handle starting with ${value}: give more of it (handles have 22 characters after tk_).`, 'handle');
    return found[0] as TokenRecord;
  }
  const key = unverifiedRecordKey(value);
  const record = key === undefined ? undefined : await deps.storage.tokens.byHash(key);
  if (record === undefined) {
    throw new RegistryError(
      'token_not_found',
      'No token issued by this instance matches. Give its handle (tk_…, from `latchkey tokens list`) or the whole token (opaque tokens start with lk_at_ or lk_rt_; JWT access tokens with eyJ).',
      'token',
    );
  }
  return record;
}

/** What revoking one token did. */
export interface RevokedToken {
  readonly handle: string;
  readonly kind: TokenKind;
  /** Tokens whose status changed: 1 for an access token, the whole family for a refresh token; 0 when it was no longer active. */
  readonly revoked: number;
}

/**
 * Revokes one token; a refresh token takes every token of its family (the same sign-in) with it.
 * Audited as `token.revoke` under the handle when anything changed.
 */
export async function revokeToken(deps: Deps, record: TokenRecord): Promise<RevokedToken> {
  const now = deps.clock.now();
  const revoked = record.kind === 'refresh' ? await deps.storage.tokens.revokeFamily(record.familyId, now) : (await deps.storage.tokens.revoke(record.hash, now)) ? 1 : 0;
  const handle = tokenHandle(record.hash);
  if (revoked > 0) {
    const [app, user] = await Promise.all([deps.storage.applications.byId(record.applicationId), record.userId === null ? undefined : deps.storage.users.byId(record.userId)]);
    await recordChange(deps, {
      action: 'token.revoke',
      target: handle,
      before: { handle, kind: record.kind, status: record.status, application: app?.clientId ?? null, user: user?.userName ?? null, scopes: [...record.scopes] },
      after: { handle, kind: record.kind, status: 'revoked', revoked },
    });
  }
  return { handle, kind: record.kind, revoked };
}

/** What revoking the tokens of an application or a user did. */
export interface RevokedTokens extends UserRevocation {
  readonly application?: { readonly clientId: string; readonly name: string };
  readonly user?: string;
}

/** Revokes every unexpired token issued to the application (client id or unique name). Audited as `token.revoke_all` under the client id. */
export async function revokeApplicationTokens(deps: Deps, ref: string): Promise<RevokedTokens> {
  const app = await findApplication(deps, ref);
  const revoked = await deps.storage.tokens.revokeForApplication(app.id, deps.clock.now());
  const application = { clientId: app.clientId, name: app.name };
  await recordChange(deps, { action: 'token.revoke_all', target: app.clientId, before: null, after: { application: app.clientId, name: app.name, revoked: revoked.tokens, families: revoked.families } });
  return { application, ...revoked };
}

/**
 * Revokes every token of the user: its own sign-ins, family by family, and the client-credentials
 * tokens of applications acting as it. Audited as `token.revoke_all` under the user name.
 */
export async function revokeUserTokens(deps: Deps, userName: string): Promise<RevokedTokens> {
  const user = await findUser(deps, userName);
  const revoked = await deps.storage.tokens.revokeForUser(user.id, deps.clock.now(), { includeClientCredentials: true });
  await recordChange(deps, { action: 'token.revoke_all', target: user.userName, before: null, after: { user: user.userName, revoked: revoked.tokens, families: revoked.families } });
  return { user: user.userName, ...revoked };
}
