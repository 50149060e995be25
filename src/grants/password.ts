import { invalidGrant, invalidRequest, unauthorizedClient } from '../errors/errors.js';
import { passwordRefusal } from '../errors/password-refusal.js';
import type { Application, User } from '../domain/model.js';
import { parseScopeParam, resolveRequestedScopes } from './scope.js';
import type { Grant, GrantDeps } from './types.js';

const PROPERTY = 'glide.oauth.inbound.ropc.grant_type.disabled';
const BAD_CREDENTIALS = 'The user name or password is wrong.';

interface Plan {
  readonly application: Application;
  readonly user: User;
  readonly scopes: string[];
}

/**
 * Resource owner password credentials: the token acts as the user.
 * @see RFC 6749 §4.3
 */
export function passwordGrant(deps: GrantDeps): Grant<Plan> {
  return {
    grantType: 'password',
    parameters: ['username', 'password'],
    publicClients: true,
    async validate(ctx) {
      const app = ctx.client.application;
      if (ctx.properties[PROPERTY]) {
        throw unauthorizedClient
          .withReason('grant.ropc_disabled')
          .withDescription(`The password grant is disabled on this instance. An administrator must set the property ${PROPERTY} to false.`);
      }
      const { username, password } = ctx.params;
      // RFC 6749 §4.3.2: username and password are REQUIRED.
      if (username === undefined || password === undefined) {
        throw invalidRequest.withReason('request.missing_parameter').withDescription('The password grant needs the username and password parameters.');
      }
      ctx.refusal.userName = username.slice(0, 200);
      // RFC 6749 §10.10: brute-force protection, the same answers whether or not the user exists (registry/lockout.ts).
      const checked = await deps.passwords.check(username, password, ctx.req.remoteAddress, ctx.properties);
      if (checked.kind !== 'ok') throw passwordRefusal(checked, invalidGrant.withReason('user.bad_credentials').withDescription(BAD_CREDENTIALS));
      const { user } = checked;
      if (!user.active) {
        throw invalidGrant.withReason('user.inactive').withDescription(`The user ${user.userName} is inactive. An administrator must activate it.`);
      }
      return { application: app, user, scopes: resolveRequestedScopes(app, parseScopeParam(ctx.params.scope)) };
    },
    async issue(plan) {
      const now = deps.clock.now();
      const withRefreshToken = plan.application.grantTypes.includes('refresh_token');
      const m = deps.mint({ application: plan.application, userId: plan.user.id, scopes: plan.scopes, grantType: 'password', withRefreshToken, now });
      const minted = m instanceof Promise ? await m : m; // JWT formats sign asynchronously; opaque is synchronous
      await deps.storage.tokens.insert(minted.records);
      return minted.body;
    },
  };
}
