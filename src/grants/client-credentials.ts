import { unauthorizedClient } from '../errors/errors.js';
import type { Application, User } from '../domain/model.js';
import { parseScopeParam, resolveRequestedScopes } from './scope.js';
import type { Grant, GrantDeps } from './types.js';

const PROPERTY = 'glide.oauth.inbound.client.credential.grant_type.enabled';

interface Plan {
  readonly application: Application;
  readonly user: User;
  readonly scopes: string[];
}

/**
 * Client credentials: the token acts as the application's "OAuth Application User".
 * @see RFC 6749 §4.4
 */
export function clientCredentialsGrant(deps: GrantDeps): Grant<Plan> {
  return {
    grantType: 'client_credentials',
    parameters: [],
    publicClients: false,
    async validate(ctx) {
      const app = ctx.client.application;
      if (!ctx.properties[PROPERTY]) {
        throw unauthorizedClient
          .withReason('grant.client_credentials_disabled')
          .withDescription(`The client_credentials grant is disabled on this instance. An administrator must set the property ${PROPERTY} to true.`);
      }
      if (app.appUserId === null) {
        throw unauthorizedClient
          .withReason('application_user.missing')
          .withDescription(`The application ${app.name} has no application user. An administrator must set one (OAuth Application User).`);
      }
      const user = deps.cache.peekUserById(app.appUserId) ?? (await deps.cache.userById(app.appUserId));
      if (user === undefined) {
        throw unauthorizedClient
          .withReason('application_user.missing')
          .withDescription(`The application user of ${app.name} no longer exists. An administrator must set another one.`);
      }
      ctx.refusal.userName = user.userName;
      if (!user.active) {
        throw unauthorizedClient
          .withReason('application_user.inactive')
          .withDescription(`The application user ${user.userName} of ${app.name} is inactive. An administrator must activate it.`);
      }
      return { application: app, user, scopes: resolveRequestedScopes(app, parseScopeParam(ctx.params.scope)) };
    },
    async issue(plan) {
      const now = deps.clock.now();
      // RFC 6749 §4.4.3: "A refresh token SHOULD NOT be included."
      const m = deps.mint({ application: plan.application, userId: plan.user.id, scopes: plan.scopes, grantType: 'client_credentials', withRefreshToken: false, now });
      const minted = m instanceof Promise ? await m : m; // JWT formats sign asynchronously; opaque is synchronous
      await deps.storage.tokens.insert(minted.records);
      return minted.body;
    },
  };
}
