import { assertionError, consumeJti, unverifiedClaims, verifyAssertion, type AssertionDeps, type VerifiedAssertion } from '../assertions/assertion.js';
import type { AuthenticatedClient } from '../client-auth/types.js';
import { invalidClient, invalidGrant, invalidRequest } from '../errors/errors.js';
import type { RegistryCache } from '../registry/cache.js';
import { type Application, type User } from '../domain/model.js';
import { JWT_BEARER_GRANT } from '../grants/grant-type.js';
import { type Storage } from '../storage/types.js';
import type { Mint } from '../tokens/issuer.js';
import { parseScopeParam, resolveRequestedScopes } from './scope.js';
import type { Grant, GrantContext } from './types.js';

export interface JwtBearerGrantDeps extends AssertionDeps {
  readonly cache: Pick<RegistryCache, 'applicationByClientId' | 'peekApplicationByClientId' | 'userByName' | 'properties' | 'peekProperties'>;
  readonly storage: Pick<Storage, 'tokens' | 'replay'>;
  readonly mint: Mint;
}

interface Plan {
  readonly application: Application;
  readonly user: User;
  readonly scopes: string[];
}

/** Assertions already verified while identifying the client, by the request's parsed parameters. */
const verifiedByParams = new WeakMap<object, VerifiedAssertion>();

function assertionOf(params: Readonly<Record<string, string>>): string {
  const assertion = params.assertion;
  // RFC 7523 §2.1: "The value of the "assertion" parameter MUST contain a single JWT."
  if (assertion === undefined) throw invalidRequest.withReason('request.missing_parameter').withDescription('The JWT bearer grant needs the assertion parameter.');
  return assertion;
}

/**
 * The JWT bearer authorization grant: an application exchanges a JWT it signed with its own key,
 * whose sub names a user of this instance, for an access token acting as that user. The
 * application is the assertion's iss (its client id); separate client authentication is optional,
 * and when present must be the same application. No refresh token is issued: the application can
 * sign a new assertion whenever it needs a token, so a long-lived credential would only add risk.
 * @see RFC 7523 §2.1, §3, §3.1; RFC 7521 §4.1
 */
export function jwtBearerGrant(deps: JwtBearerGrantDeps): Grant<Plan> {
  async function verify(assertion: string, app: Application): Promise<VerifiedAssertion> {
    return verifyAssertion(deps, 'grant', assertion, app);
  }

  return {
    grantType: JWT_BEARER_GRANT,
    parameters: ['assertion'],
    // The assertion, signed with the application's registered key, is what proves the client.
    publicClients: true,

    async identifyClient(_req, params, context): Promise<AuthenticatedClient> {
      const assertion = assertionOf(params);
      const { iss } = unverifiedClaims('grant', assertion);
      if (typeof iss !== 'string' || iss === '') throw assertionError('grant', 'assertion.missing_claim', 'The assertion has no iss claim (the client id).');
      context.clientId = iss.slice(0, 200);
      if (params.client_id !== undefined && params.client_id !== iss) {
        throw assertionError('grant', 'assertion.wrong_client', `client_id ${JSON.stringify(params.client_id.slice(0, 100))} differs from the assertion's iss ${JSON.stringify(iss.slice(0, 100))}.`);
      }
      const app = deps.cache.peekApplicationByClientId(iss) ?? (await deps.cache.applicationByClientId(iss));
      if (app === undefined) throw assertionError('grant', 'assertion.unknown_issuer', `No application has client id ${JSON.stringify(iss.slice(0, 100))} (the assertion's iss).`);
      context.applicationName = app.name;
      verifiedByParams.set(params, await verify(assertion, app));
      context.application = app;
      if (!app.active) {
        throw invalidClient
          .withReason('client_auth.application_inactive')
          .withDescription(`The application ${app.name} is inactive. An administrator must activate it.`);
      }
      return { application: app, method: 'private_key_jwt' };
    },

    async validate(ctx: GrantContext): Promise<Plan> {
      const app = ctx.client.application;
      const assertion = assertionOf(ctx.params);
      let verified = verifiedByParams.get(ctx.params);
      if (verified === undefined) {
        // The client authenticated separately: the assertion must still be its own (RFC 7523 §3.1).
        const { iss } = unverifiedClaims('grant', assertion);
        if (typeof iss === 'string' && iss !== app.clientId) {
          throw assertionError('grant', 'assertion.wrong_client', `The assertion's iss ${JSON.stringify(iss.slice(0, 100))} is not the authenticated client ${app.clientId}.`);
        }
        verified = await verify(assertion, app);
      }
      if (verified.iss !== app.clientId) {
        throw assertionError('grant', 'assertion.wrong_client', `The assertion's iss ${JSON.stringify(verified.iss.slice(0, 100))} is not the authenticated client ${app.clientId}.`);
      }
      ctx.refusal.userName = verified.sub.slice(0, 200);
      const user = await deps.cache.userByName(verified.sub);
      if (user === undefined) throw assertionError('grant', 'assertion.unknown_user', `No user is named ${JSON.stringify(verified.sub.slice(0, 100))} (the assertion's sub).`, 'The user named by the assertion is not known.');
      if (!user.active) {
        throw invalidGrant.withReason('user.inactive').withDescription(`The user ${user.userName} is inactive. An administrator must activate it.`);
      }
      const scopes = resolveRequestedScopes(app, parseScopeParam(ctx.params.scope));
      // Last: a refused request leaves its jti unused, so the client can fix the cause and retry.
      await consumeJti(deps, 'grant', ctx.req, app.clientId, verified);
      return { application: app, user, scopes };
    },

    async issue(plan) {
      const now = deps.clock.now();
      // RFC 7523 §3.1 does not call for a refresh token: the application signs a new assertion instead.
      const minted = await deps.mint({ application: plan.application, userId: plan.user.id, scopes: plan.scopes, grantType: JWT_BEARER_GRANT, withRefreshToken: false, now });
      await deps.storage.tokens.insert(minted.records);
      return minted.body;
    },
  };
}
