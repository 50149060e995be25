import { SESSION_ABSOLUTE_MS } from '../web/session.js';
import { createHash } from 'node:crypto';
import { constantTimeEqual, tokenKey } from '../core/crypto.js';
import { commandLine, placeholder } from '../core/shell.js';
import { invalidGrant, invalidRequest } from '../errors/errors.js';
import { factString, factTime } from '../errors/fact-values.js';
import { OAuthError } from '../errors/oauth-error.js';
import type { Application, AuthorizationCode, Facts, User } from '../domain/model.js';
import { effectiveScopes } from './scope.js';
import { OPENID_SCOPE } from '../registry/oidc-scopes.js';
import { issueTokens, refreshJktOf } from './issue.js';
import { audienceOf, bindResources, fitScopes } from './resource.js';
import type { GrantContext, GrantDeps, GrantHandler, GrantModule } from './types.js';

/** RFC 7636 §4.1: code-verifier = 43*128unreserved. */
const VERIFIER = /^[A-Za-z0-9\-._~]{43,128}$/;
const NOT_UNRESERVED = /[^A-Za-z0-9\-._~]/g;
/** What a presented code is by its shape (prefix, 12 hex digits of issue time, 43 random characters). */
const SHAPED = /^lk_(ac|at|rt)_([0-9a-f]{12})[A-Za-z0-9_-]{43}$/;
const SHAPE_NAMES: Readonly<Record<string, string>> = { ac: 'authorization_code', at: 'access_token', rt: 'refresh_token' };
/**
 * How long an authorization code lives (endpoints/authorize/code.ts issues them). RFC 6749 §4.1.2:
 * "A maximum authorization code lifetime of 10 minutes is RECOMMENDED"; ours is much shorter.
 */
export const CODE_LIFETIME_MS = 60_000;
const INVALID = 'The authorization code is invalid, expired or already used. Start a new authorization request.';

interface Plan {
  readonly application: Application;
  readonly code: AuthorizationCode;
  readonly user: User;
  readonly scopes: string[];
  /** RFC 8707: the access token's resources (those the token request named, else all the code's). */
  readonly audience: string[] | undefined;
}

/** RFC 7636 §4.6: BASE64URL-ENCODE(SHA256(ASCII(code_verifier))) == code_challenge, compared in constant time. */
export function s256Matches(verifier: string, challenge: string): boolean {
  return constantTimeEqual(createHash('sha256').update(verifier, 'ascii').digest('base64url'), challenge);
}

/**
 * The authorization code grant. A code is consumed (compare-and-set, single use) before anything
 * else is checked, so a stolen code gets exactly one try at the verifier; a code presented again
 * revokes every token issued from it (their family id is the code's hash).
 * @see RFC 6749 §4.1.3, §10.5; RFC 7636 §4.5, §4.6; RFC 9700 §2.1.1, §4.5
 */
export const authorizationCode: GrantModule<Plan> = {
  grantType: 'authorization_code',
  label: 'Authorization code',
  summary: 'A web, mobile or single-page application: users sign in on Latchkey and consent (with PKCE).',
  parameters: [
    { name: 'code', required: true, description: 'The authorization code from the redirect.' },
    { name: 'redirect_uri', required: false, description: 'The redirect URI of the authorization request (required when that request had one).' },
    { name: 'code_verifier', required: false, description: 'The PKCE code verifier (RFC 7636; required when the request had a code_challenge).' },
  ],
  // RFC 6749 §4.1.3 with RFC 7636: public clients may redeem codes; PKCE is then mandatory.
  clientAuth: 'public_allowed',
  preset: ['authorization_code', 'refresh_token'],
  adminApi: true,
  kindNeeds: ({ redirectUris }) =>
    redirectUris.some((u) => u.trim() !== '') ? undefined : { field: 'redirectUris', message: 'An authorization_code application needs at least one redirect URI.' },
  checks({ application: app }) {
    if (app.redirectUris.length > 0) return [];
    return [{ id: 'authorize.redirect_uri_missing', text: `the application allows authorization_code but has no redirect URI, so authorization requests will be refused. Fix: ${commandLine(['apps', 'update', app.clientId, '--redirect-uri', placeholder('uri')])}` }];
  },
  example: {
    params(app) {
      const redirect = app === undefined ? '<redirect-uri>' : app.redirectUris[0];
      return ['-d', 'code=<code>', '-d', 'code_verifier=<verifier>', ...(redirect === undefined ? [] : ['--data-urlencode', `redirect_uri=${redirect}`])];
    },
    immediate: false,
  },
  createHandler: authorizationCodeHandler,
};

/** The facts of a refusal of a code that is not stored: what it looks like (never the code itself) and, when shaped like ours, when it was issued. */
function shapeFacts(presented: string): Facts {
  const m = SHAPED.exec(presented);
  const kind = m?.[1];
  const issued = m?.[2] === undefined ? null : Number.parseInt(m[2], 16);
  return {
    codeShape: kind === undefined ? 'unrecognised' : (SHAPE_NAMES[kind] ?? 'unrecognised'),
    codeLength: presented.length,
    issuedAt: factTime(issued),
    expiredAt: kind === 'ac' && issued !== null ? factTime(issued + CODE_LIFETIME_MS) : null,
  };
}

function authorizationCodeHandler(deps: GrantDeps): GrantHandler<Plan> {
  /** The facts of a refusal of a stored code: when it was issued and expired, to whom, for which redirect URI. */
  async function codeFacts(code: AuthorizationCode, app: Application): Promise<Facts> {
    const owner = code.applicationId === app.id ? app : (deps.cache.peekApplicationById(code.applicationId) ?? (await deps.cache.applicationById(code.applicationId).catch(() => undefined)));
    return {
      issuedAt: factTime(code.issuedAt),
      expiredAt: factTime(code.expiresAt),
      codeClientId: owner?.clientId ?? null,
      codeRedirectUri: code.redirectUri,
      codeHasChallenge: code.codeChallenge !== null,
    };
  }

  function checkVerifier(code: AuthorizationCode, verifier: string | undefined, app: Application): void {
    if (code.codeChallenge === null) {
      // A verifier for a code issued without a challenge: a PKCE downgrade (RFC 9700 §4.8.2).
      if (verifier !== undefined) throw invalidGrant.withReason('pkce.verifier_unexpected').withDescription('A code_verifier was sent, but the authorization request had no code_challenge.');
      // Never issued (the authorization endpoint requires PKCE of public clients), but never honoured either.
      if (app.public) throw invalidGrant.withReason('pkce.verifier_missing').withDescription('PKCE is required for public clients.');
      return;
    }
    if (verifier === undefined) throw invalidGrant.withReason('pkce.verifier_missing').withDescription('The code_verifier parameter is required: the authorization request had a code_challenge.');
    if (!s256Matches(verifier, code.codeChallenge)) throw invalidGrant.withReason('pkce.verifier_mismatch').withDescription('The code_verifier does not match the code_challenge.');
  }

  function checkRedirectUri(code: AuthorizationCode, sent: string | undefined, app: Application): void {
    // RFC 6749 §4.1.3: REQUIRED, and identical, if it was in the authorization request.
    if (code.redirectUri !== null) {
      if (sent !== code.redirectUri) {
        throw invalidGrant
          .withReason('authorization_code.redirect_uri_mismatch')
          .withDescription(sent === undefined ? 'The redirect_uri parameter is required: the authorization request had one.' : 'The redirect_uri differs from the one in the authorization request.');
      }
      return;
    }
    if (sent !== undefined && !app.redirectUris.includes(sent)) {
      throw invalidGrant.withReason('authorization_code.redirect_uri_mismatch').withDescription('The redirect_uri is not registered for this application.');
    }
  }

  return {
    async validate(ctx: GrantContext) {
      const app = ctx.client.application;
      const { code_verifier: verifier, redirect_uri: redirectUri } = ctx.params;
      // Declared required: the token endpoint refused a request without it.
      const presented = ctx.params.code ?? '';
      if (verifier !== undefined && !VERIFIER.test(verifier)) {
        throw invalidRequest
          .withReason('pkce.verifier_malformed')
          .withDescription('The code_verifier must be 43 to 128 characters from A-Z a-z 0-9 - . _ ~ (RFC 7636 section 4.1).')
          .withFacts({ verifierLength: verifier.length, verifierInvalidCharacters: (verifier.match(NOT_UNRESERVED) ?? []).length });
      }
      const now = deps.clock.now();
      const result = await deps.storage.codes.consume(tokenKey(presented), now);
      if (result.outcome === 'not_found') throw invalidGrant.withReason('authorization_code.unknown').withDescription(INVALID).withFacts(shapeFacts(presented));
      if (result.outcome === 'used') {
        // RFC 6749 §4.1.2: "...the authorization server MUST deny the request and SHOULD revoke
        // (when possible) all tokens previously issued based on that authorization code."
        await deps.storage.replay.remember(reuseMarker(result.code.hash), markerExpiry(result.code, now), now);
        const revoked = await deps.storage.tokens.revokeFamily(result.code.hash, now);
        // This instance's cached answers for those tokens drop now, not at the next poll.
        if (revoked > 0) await deps.cache.check?.().catch(() => false);
        throw invalidGrant
          .withReason('authorization_code.reused')
          .withDescription(INVALID)
          .withHint(`Code used again; ${revoked} token(s) issued from it revoked (family ${result.code.hash}).`)
          .withFacts({ ...(await codeFacts(result.code, app)), codeUsedAt: factTime(result.code.usedAt), tokensRevoked: revoked });
      }
      const code = result.code;
      if (code.expiresAt <= now) throw invalidGrant.withReason('authorization_code.expired').withDescription(INVALID).withFacts(await codeFacts(code, app));
      if (code.applicationId !== app.id) {
        throw invalidGrant.withReason('authorization_code.wrong_client').withDescription('The authorization code was issued to another client.').withFacts(await codeFacts(code, app));
      }
      try {
        checkRedirectUri(code, redirectUri, app);
        checkVerifier(code, verifier, app);
      } catch (error) {
        // The verifier's length, never the verifier (the client's PKCE secret).
        if (error instanceof OAuthError) {
          throw error.withFacts({ ...(await codeFacts(code, app)), requestedRedirectUri: factString(redirectUri, 500), verifierLength: verifier?.length ?? null, requiredChallengeMethod: 'S256' });
        }
        throw error;
      }
      // RFC 9449 §10: a code bound by dpop_jkt is redeemed only with a proof of that key.
      if (code.dpopJkt !== undefined && code.dpopJkt !== null && code.dpopJkt !== ctx.dpopJkt) {
        throw invalidGrant
          .withReason('dpop.jkt_mismatch')
          .withDescription(ctx.dpopJkt === undefined ? 'The authorization request named a dpop_jkt: redeem the code with a DPoP proof of that key.' : 'The DPoP proof key is not the one the authorization request named (dpop_jkt).')
          .withFacts({ ...(await codeFacts(code, app)), boundJkt: code.dpopJkt, dpopJkt: ctx.dpopJkt ?? null });
      }
      const user = await deps.cache.userById(code.userId);
      if (user !== undefined) ctx.refusal.userName = user.userName;
      if (user === undefined || !user.active) {
        throw invalidGrant.withReason('user.inactive').withDescription('The user who authorized this code is inactive. An administrator must activate it.');
      }
      // RFC 8707 §2.2: the token request names the code's resources or fewer (none: all of them).
      let resources;
      try {
        resources = await bindResources(deps.resources, ctx.resources, code.resources);
      } catch (error) {
        throw error instanceof OAuthError ? error.withFacts(await codeFacts(code, app)) : error;
      }
      // The scopes consented to, as far as the application is still allowed them now (and the resources accept them).
      return { application: app, code, user, scopes: fitScopes(resources, effectiveScopes(code.scopes, app), false), audience: audienceOf(resources) };
    },
    async issue(plan, ctx) {
      const now = deps.clock.now();
      const withRefreshToken = plan.application.grantTypes.includes('refresh_token');
      const body = await issueTokens(deps, {
        application: plan.application,
        userId: plan.user.id,
        scopes: plan.scopes,
        grantType: 'authorization_code',
        // Every token from this code (and every refresh of them) is one family, named by the code.
        familyId: plan.code.hash,
        withRefreshToken,
        now,
        audience: plan.audience,
        // The refresh token keeps every resource the code was issued for: a refresh may name any of them.
        refreshAudience: plan.code.resources ?? [],
        // And the scopes consented to (the access token's may be narrowed to its resources).
        refreshScopes: effectiveScopes(plan.code.scopes, plan.application),
        // RFC 9449 §5: bound to the request's DPoP key (a public client's refresh token too).
        jkt: ctx.dpopJkt,
        refreshJkt: refreshJktOf(plan.application, ctx.dpopJkt),
      });
      // A concurrent second redemption lost the consume race and revoked the family, maybe before
      // these tokens existed. Whichever of us marks the code first decides: if the other side got
      // there first, the code was used twice, so these tokens go too.
      const marked = await deps.storage.replay.remember(reuseMarker(plan.code.hash), markerExpiry(plan.code, now), now);
      if (!marked) {
        const revoked = await deps.storage.tokens.revokeFamily(plan.code.hash, now);
        if (revoked > 0) await deps.cache.check?.().catch(() => false);
        throw invalidGrant
          .withReason('authorization_code.reused')
          .withDescription(INVALID)
          .withHint(`Code redeemed twice at once; tokens issued from it revoked (family ${plan.code.hash}).`)
          .withFacts({ ...(await codeFacts(plan.code, plan.application)), codeUsedAt: factTime(plan.code.usedAt), tokensRevoked: revoked });
      }
      // OpenID Connect Core 1.0 §3.1.3.3: an ID token when the grant has the openid scope.
      if (deps.idTokens === undefined || !plan.scopes.includes(OPENID_SCOPE)) return body;
      const idToken = await deps.idTokens({
        application: plan.application,
        userId: plan.user.id,
        accessToken: body.access_token,
        now,
        nonce: plan.code.nonce ?? null,
        authTime: plan.code.authTime ?? null,
        sid: plan.code.sid ?? null,
        // The sign-in pages take a password (RFC 8176 "pwd"); a code without a sign-in time says nothing.
        amr: plan.code.authTime === undefined || plan.code.authTime === null ? null : ['pwd'],
        // Core 1.0 §5.5: the claims the request's claims parameter asked to have in the ID token.
        claims: deps.idTokenClaims === undefined || plan.code.claims === undefined || plan.code.claims === null || plan.code.claims.idToken.length === 0 ? null : deps.idTokenClaims(plan.user, plan.code.claims.idToken),
      });
      // Back-Channel Logout 1.0: note that this application signed in through the session (sid), so
      // that ending the session notifies it; kept until the session's absolute end.
      if (plan.code.sid !== undefined && plan.code.sid !== null && deps.storage.sessions !== undefined) {
        const authTime = plan.code.authTime ?? now;
        await deps.storage.sessions.addClient(plan.code.sid, plan.application.id, now, authTime + SESSION_ABSOLUTE_MS);
      }
      return { ...body, id_token: idToken };
    },
  };
}

/** The one-time key both sides of a redemption race write (see issue and validate). */
function reuseMarker(hash: string): string {
  return `authorization_code:${hash}`;
}

function markerExpiry(code: AuthorizationCode, now: number): number {
  return Math.max(code.expiresAt, now) + 5 * 60_000;
}
