import { commandLine } from '../core/shell.js';
import { invalidGrant, unauthorizedClient } from '../errors/errors.js';
import { passwordRefusal } from '../errors/password-refusal.js';
import type { Application, User } from '../domain/model.js';
import { issueTokens, refreshJktOf } from './issue.js';
import { audienceOf, fitScopes } from './resource.js';
import { grantedScopes } from './scope.js';
import type { GrantModule } from './types.js';

export const ROPC_DISABLED_PROPERTY = 'glide.oauth.inbound.ropc.grant_type.disabled';
const PROPERTY = ROPC_DISABLED_PROPERTY;
const BAD_CREDENTIALS = 'The user name or password is wrong.';
// RFC 6749 §4.3.2: username and password are REQUIRED.
const MISSING = 'The password grant needs the username and password parameters.';

interface Plan {
  readonly application: Application;
  readonly user: User;
  readonly scopes: string[];
}

/**
 * Resource owner password credentials: the token acts as the user.
 * @see RFC 6749 §4.3
 */
export const password: GrantModule<Plan> = {
  grantType: 'password',
  label: 'Password',
  summary: 'A trusted first-party client that sends the user name and password (resource owner password credentials).',
  parameters: [
    { name: 'username', required: true, description: 'The user name.', missing: MISSING },
    { name: 'password', required: true, description: "The user's password.", missing: MISSING },
  ],
  clientAuth: 'public_allowed',
  switchedOff: (properties) =>
    properties[PROPERTY]
      ? unauthorizedClient.withReason('grant.ropc_disabled').withDescription(`The password grant is disabled on this instance. An administrator must set the property ${PROPERTY} to false.`).withFacts({ property: PROPERTY })
      : undefined,
  preset: ['password', 'refresh_token'],
  implies: ['refresh_token'],
  adminApi: true,
  checks({ properties }) {
    if (!properties[PROPERTY]) return [];
    return [{ id: 'grant.ropc_disabled', text: `the password grant is switched off for this instance (${PROPERTY} is true). Fix: ${commandLine(['properties', 'set', PROPERTY, 'false'])}` }];
  },
  example: {
    params: (_app, p) => ['--data-urlencode', `username=${p.user}`, '--data-urlencode', 'password=<password>'],
    immediate: true,
  },
  createHandler(deps) {
    return {
      async validate(ctx) {
        const app = ctx.client.application;
        // Switched off, or without username and password: the token endpoint refused the request already.
        const username = ctx.params.username ?? '';
        const pw = ctx.params.password ?? '';
        ctx.refusal.userName = username.slice(0, 200);
        // RFC 6749 §10.10: brute-force protection, the same answers whether or not the user exists,
        // is inactive or locked (registry/lockout.ts): only an active user's right password is 'ok'.
        const checked = await deps.passwords.check(username, pw, ctx.req.remoteAddress, ctx.properties);
        if (checked.kind !== 'ok') throw passwordRefusal(checked, invalidGrant.withReason('user.bad_credentials').withDescription(BAD_CREDENTIALS));
        const { user } = checked;
        // RFC 8707: the scopes of a token for resources are those the resources accept.
        return { application: app, user, scopes: fitScopes(ctx.resources, await grantedScopes(deps.storage, app, ctx.params.scope), ctx.params.scope !== undefined) };
      },
      issue(plan, ctx) {
        const withRefreshToken = plan.application.grantTypes.includes('refresh_token');
        return issueTokens(deps, { application: plan.application, userId: plan.user.id, scopes: plan.scopes, grantType: 'password', withRefreshToken, audience: audienceOf(ctx.resources), jkt: ctx.dpopJkt, refreshJkt: refreshJktOf(plan.application, ctx.dpopJkt) });
      },
    };
  },
};
