import { recordChange, SYSTEM_ACTOR } from '../audit/log.js';
import { TOKEN_PREFIX, tokenHandle, tokenHint, tokenKey } from '../core/crypto.js';
import { invalidGrant, invalidScope } from '../errors/errors.js';
import type { Application, Facts, TokenRecord } from '../domain/model.js';
import { isJwtShaped } from '../tokens/jwt.js';
import { effectiveScopes, parseScopeParam, scopesFact } from './scope.js';
import { issueTokens, refreshJktOf } from './issue.js';
import { audienceOf, bindResources, fitScopes } from './resource.js';
import { OAuthError } from '../errors/oauth-error.js';
import { OPENID_SCOPE } from '../registry/oidc-scopes.js';
import type { GrantContext, GrantDeps, GrantHandler, GrantModule } from './types.js';

interface Plan {
  readonly application: Application;
  readonly hash: string;
  readonly record: TokenRecord;
  readonly scopes: string[];
  /** RFC 8707: the new access token's resources (those named, else all the grant's). */
  readonly audience: string[] | undefined;
}

const INVALID = 'The refresh token is invalid, expired or revoked. Obtain a new token with the original grant.';

const iso = (ms: number): string => new Date(ms).toISOString();
const OPAQUE_SHAPE = /^lk_([a-z]{2})_([0-9a-f]{12})[A-Za-z0-9_-]{43}$/;

/** The facts of a stored token the refusal is about: its handle and times (the record may be purged later). */
function tokenFacts(record: TokenRecord): Facts {
  return { token: tokenHandle(record.hash), issuedAt: iso(record.issuedAt) };
}

/**
 * What a refresh_token value that is not a stored refresh token is, as far as its form tells:
 * for the administrator, never the value. Only a value shaped like one of our tokens gets a
 * handle (a client secret or a password pasted by mistake gets none).
 */
function presentedFacts(presented: string, hash: string, stored: TokenRecord | undefined): Facts {
  if (stored !== undefined) {
    return { ...tokenFacts(stored), tokenShape: `a stored ${stored.kind} token of this server, not a refresh token` };
  }
  const opaque = OPAQUE_SHAPE.exec(presented);
  if (opaque !== null && `lk_${opaque[1]}_` === TOKEN_PREFIX.refresh) {
    return {
      token: tokenHandle(hash),
      issuedAt: iso(parseInt(opaque[2] ?? '0', 16)),
      tokenShape: "a refresh token in this server's format that is not stored: it expired and was purged, or another instance (another database) issued it",
    };
  }
  if (opaque !== null && `lk_${opaque[1]}_` === TOKEN_PREFIX.access) {
    return { token: tokenHandle(hash), tokenShape: "an access token in this server's format (sent as the refresh token), not stored" };
  }
  if (presented.startsWith(TOKEN_PREFIX.secret)) return { token: null, tokenShape: 'a client secret (lk_cs_…), not a token: rotate that secret, it was sent where a token goes' };
  if (isJwtShaped(presented)) return { token: null, tokenShape: "a JWT: this server's refresh tokens are opaque (lk_rt_…)" };
  return { token: null, tokenShape: `not a token in this server's format (refresh tokens are lk_rt_ and 55 characters; this is ${presented.length} characters)` };
}

/**
 * Refresh tokens rotate on every use; presenting one that was already exchanged revokes the whole
 * family, since either the client or an attacker holds a stolen copy.
 * @see RFC 6749 §6, OAuth 2.0 Security BCP (RFC 9700) §4.14.2
 */
export const refreshToken: GrantModule<Plan> = {
  grantType: 'refresh_token',
  label: 'Refresh token',
  summary: 'Exchanges a refresh token (issued with the password and authorization code grants) for new tokens; rotates on every use.',
  parameters: [{ name: 'refresh_token', required: true, description: 'The refresh token to exchange.' }],
  clientAuth: 'public_allowed',
  adminApi: true,
  createHandler: refreshTokenHandler,
};

function refreshTokenHandler(deps: GrantDeps): GrantHandler<Plan> {
  /**
   * Revokes the family of a reused refresh token, audited (actor system, under the application's
   * client id, where the explanation of its other tokens' refusals finds who revoked them).
   */
  async function reused(record: TokenRecord, app: Application, requestId: string): Promise<never> {
    const revoked = await deps.storage.tokens.revokeFamily(record.familyId, deps.clock.now());
    // As the revocation endpoint does: this instance's cached answers for the family's tokens
    // (bearer validation, introspection) are dropped now rather than at the next poll.
    if (revoked > 0) await deps.cache.check?.().catch(() => false);
    const handle = tokenHandle(record.hash);
    if (revoked > 0) {
      await recordChange(
        { storage: deps.storage, clock: deps.clock, actor: SYSTEM_ACTOR },
        { action: 'token.revoke_family', target: app.clientId, before: null, after: { reason: 'refresh_token.reused', token: handle, revoked, requestId } },
      );
    }
    throw invalidGrant
      .withReason('refresh_token.reused')
      .withDescription(INVALID)
      .withHint(tokenHint(record.hash, `Its family (every token of the same sign-in) was revoked after the reuse.`))
      .withFacts({ ...tokenFacts(record), familyRevoked: revoked });
  }

  async function checkUser(record: TokenRecord, ctx: GrantContext): Promise<void> {
    if (record.userId === null) return;
    const user = await deps.cache.userById(record.userId);
    if (user !== undefined) ctx.refusal.userName = user.userName;
    if (user === undefined || !user.active) {
      throw invalidGrant.withReason('user.inactive').withDescription('The user of this refresh token is inactive. An administrator must activate it.').withHint(tokenHint(record.hash));
    }
  }

  return {
    async validate(ctx) {
      const app = ctx.client.application;
      // Declared required: the token endpoint refused a request without it.
      const presented = ctx.params.refresh_token ?? '';
      const hash = tokenKey(presented);
      const record = await deps.storage.tokens.byHash(hash);
      if (record === undefined || record.kind !== 'refresh') {
        throw invalidGrant.withReason('refresh_token.unknown').withDescription(INVALID).withFacts(presentedFacts(presented, hash, record));
      }
      // RFC 6749 §6: the refresh token must have been issued to the authenticated client.
      if (record.applicationId !== app.id) {
        throw invalidGrant.withReason('refresh_token.wrong_client').withDescription('The refresh token was issued to another client.').withHint(tokenHint(record.hash)).withFacts(tokenFacts(record));
      }
      if (record.status === 'rotated') return reused(record, app, ctx.req.requestId);
      if (record.status === 'revoked') {
        throw invalidGrant
          .withReason('refresh_token.revoked')
          .withDescription(INVALID)
          .withHint(tokenHint(record.hash))
          .withFacts({ ...tokenFacts(record), revokedAt: record.revokedAt === null ? null : iso(record.revokedAt) });
      }
      if (record.expiresAt <= deps.clock.now()) {
        throw invalidGrant.withReason('refresh_token.expired').withDescription(INVALID).withHint(tokenHint(record.hash)).withFacts({ ...tokenFacts(record), expiredAt: iso(record.expiresAt) });
      }
      // RFC 9449 §5: a bound refresh token (a public client's) is used only with a proof of its key.
      if (record.jkt !== undefined && record.jkt !== null && record.jkt !== ctx.dpopJkt) {
        throw new OAuthError({
          error: 'invalid_dpop_proof',
          status: 400,
          reason: 'dpop.key_mismatch',
          description: ctx.dpopJkt === undefined ? 'The refresh token is bound to a DPoP key: send a DPoP proof of that key.' : 'The DPoP proof key is not the one the refresh token is bound to.',
        })
          .withHint(tokenHint(record.hash))
          .withFacts({ ...tokenFacts(record), boundJkt: record.jkt, dpopJkt: ctx.dpopJkt ?? null });
      }
      await checkUser(record, ctx);
      // RFC 6749 §6: the requested scope MUST NOT include any scope not originally granted.
      const requested = parseScopeParam(ctx.params.scope);
      if (requested !== undefined) {
        const broader = requested.filter((s) => !record.scopes.includes(s));
        if (broader.length > 0) {
          throw invalidScope
            .withReason('scope.broader_than_grant')
            .withDescription(`The scope ${broader.join(', ')} was not part of the original grant.`)
            .withHint(tokenHint(record.hash))
            .withFacts({ ...tokenFacts(record), requestedScopes: scopesFact(requested), tokenScopes: [...record.scopes], scopesBeyondGrant: scopesFact(broader) });
        }
        // Granted (the check above), but no longer the application's: withdrawn after the token was issued.
        const withdrawn = requested.filter((s) => !app.scopes.includes(s));
        if (withdrawn.length > 0) {
          throw invalidScope
            .withReason('scope.withdrawn')
            .withDescription(`The application ${app.name} is no longer allowed the scope ${withdrawn.join(', ')}.`)
            .withHint(tokenHint(record.hash))
            .withFacts({ ...tokenFacts(record), requestedScopes: scopesFact(requested), tokenScopes: [...record.scopes], withdrawnScopes: scopesFact(withdrawn) });
        }
      }
      // RFC 8707 §2.2: a refresh may name the grant's resources or fewer (none: all of them).
      let resources;
      try {
        resources = await bindResources(deps.resources, ctx.resources, record.audience, { token: tokenHandle(record.hash) });
      } catch (error) {
        throw error instanceof OAuthError ? error.withHint(tokenHint(record.hash)) : error;
      }
      const scopes = fitScopes(resources, requested ?? effectiveScopes(record.scopes, app), requested !== undefined);
      return { application: app, hash, record, scopes, audience: audienceOf(resources) };
    },
    async issue(plan, ctx) {
      const now = deps.clock.now();
      const body = await issueTokens(
        deps,
        {
          application: plan.application,
          userId: plan.record.userId,
          scopes: plan.scopes,
          grantType: plan.record.grantType,
          familyId: plan.record.familyId,
          withRefreshToken: true,
          // The family keeps the lifetime of the first refresh token: rotation does not extend it.
          refreshExpiresAt: plan.record.expiresAt,
          now,
          audience: plan.audience,
          // The new refresh token keeps the grant's resources, as it keeps its scopes.
          refreshAudience: plan.record.audience ?? [],
          // RFC 9449 §5: the new access token is bound to this request's proof key; a bound refresh token stays bound.
          jkt: ctx.dpopJkt,
          refreshJkt: plan.record.jkt ?? refreshJktOf(plan.application, ctx.dpopJkt),
        },
        {
          // Rotation: the presented token is consumed and the new ones stored at once.
          // RFC 6749 §6: the new refresh token keeps the scope of the one presented, even when the access token was narrowed.
          async store(records) {
            const result = await deps.storage.tokens.consumeRefresh(plan.hash, now, records.map((r) => (r.kind === 'refresh' ? { ...r, scopes: plan.record.scopes } : r)));
            if (result.outcome === 'consumed') return;
            // Lost a race with a concurrent use of the same token: that is reuse.
            if (result.outcome === 'not_active') return reused(result.token, plan.application, ctx.req.requestId);
            throw invalidGrant.withReason('refresh_token.unknown').withDescription(INVALID);
          },
        },
      );
      // OpenID Connect Core 1.0 §12.2: a new ID token when the original grant was an OpenID sign-in
      // (authorization code with openid) and the scope kept openid: same iss, sub and aud, a new
      // iat, no nonce (it SHOULD NOT be there), and no auth_time, sid or amr, which this record
      // does not keep (they are optional; an auth_time, if present, would have to be the original's).
      const { userId } = plan.record;
      if (deps.idTokens === undefined || userId === null || plan.record.grantType !== 'authorization_code' || !plan.scopes.includes(OPENID_SCOPE)) return body;
      const idToken = await deps.idTokens({ application: plan.application, userId, accessToken: body.access_token, now });
      return { ...body, id_token: idToken };
    },
  };
}
