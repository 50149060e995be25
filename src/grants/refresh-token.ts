import { tokenHint, tokenKey } from '../core/crypto.js';
import { invalidGrant, invalidScope } from '../errors/errors.js';
import type { Application, TokenRecord } from '../domain/model.js';
import { effectiveScopes, parseScopeParam } from './scope.js';
import { issueTokens } from './issue.js';
import type { GrantContext, GrantDeps, GrantHandler, GrantModule } from './types.js';

interface Plan {
  readonly application: Application;
  readonly hash: string;
  readonly record: TokenRecord;
  readonly scopes: string[];
}

const INVALID = 'The refresh token is invalid, expired or revoked. Obtain a new token with the original grant.';

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
  async function reused(record: TokenRecord): Promise<never> {
    await deps.storage.tokens.revokeFamily(record.familyId, deps.clock.now());
    throw invalidGrant
      .withReason('refresh_token.reused')
      .withDescription(INVALID)
      .withHint(tokenHint(record.hash, `Its family (every token of the same sign-in) was revoked after the reuse.`));
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
        throw invalidGrant.withReason('refresh_token.unknown').withDescription(INVALID);
      }
      // RFC 6749 §6: the refresh token must have been issued to the authenticated client.
      if (record.applicationId !== app.id) {
        throw invalidGrant.withReason('refresh_token.wrong_client').withDescription('The refresh token was issued to another client.').withHint(tokenHint(record.hash));
      }
      if (record.status === 'rotated') return reused(record);
      if (record.status === 'revoked') throw invalidGrant.withReason('refresh_token.revoked').withDescription(INVALID).withHint(tokenHint(record.hash));
      if (record.expiresAt <= deps.clock.now()) throw invalidGrant.withReason('refresh_token.expired').withDescription(INVALID).withHint(tokenHint(record.hash));
      await checkUser(record, ctx);
      // RFC 6749 §6: the requested scope MUST NOT include any scope not originally granted.
      const requested = parseScopeParam(ctx.params.scope);
      if (requested !== undefined) {
        const broader = requested.filter((s) => !record.scopes.includes(s));
        if (broader.length > 0) {
          throw invalidScope
            .withReason('scope.broader_than_grant')
            .withDescription(`The scope ${broader.join(', ')} was not part of the original grant.`);
        }
        const notAllowed = requested.filter((s) => !app.scopes.includes(s));
        if (notAllowed.length > 0) {
          throw invalidScope
            .withReason('scope.not_allowed')
            .withDescription(`The application ${app.name} is no longer allowed the scope ${notAllowed.join(', ')}.`);
        }
      }
      return { application: app, hash, record, scopes: requested ?? effectiveScopes(record.scopes, app) };
    },
    async issue(plan) {
      const now = deps.clock.now();
      return issueTokens(
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
        },
        {
          // Rotation: the presented token is consumed and the new ones stored at once.
          // RFC 6749 §6: the new refresh token keeps the scope of the one presented, even when the access token was narrowed.
          async store(records) {
            const result = await deps.storage.tokens.consumeRefresh(plan.hash, now, records.map((r) => (r.kind === 'refresh' ? { ...r, scopes: plan.record.scopes } : r)));
            if (result.outcome === 'consumed') return;
            // Lost a race with a concurrent use of the same token: that is reuse.
            if (result.outcome === 'not_active') return reused(result.token);
            throw invalidGrant.withReason('refresh_token.unknown').withDescription(INVALID);
          },
        },
      );
    },
  };
}
