import { assertionError, assertionFacts, consumeJti, unverifiedClaims, verifyAssertion, type VerifiedAssertion } from '../assertions/assertion.js';
import { factString } from '../errors/fact-values.js';
import { spendSignatureCheck } from '../assertions/stand-in.js';
import type { AuthenticatedClient } from '../client-auth/types.js';
import { invalidClient, invalidGrant } from '../errors/errors.js';
import { commandLine, placeholder } from '../core/shell.js';
import { appLabel, appLink } from '../domain/labels.js';
import { ADMIN_ROLE } from '../registry/scopes.js';
import { type Application, type User } from '../domain/model.js';
import { JWT_BEARER_GRANT } from '../grants/grant-type.js';
import { issueTokens } from './issue.js';
import { audienceOf, fitScopes } from './resource.js';
import { grantedScopes } from './scope.js';
import type { GrantContext, GrantDeps, GrantHandler, GrantModule, GrantWarning } from './types.js';

interface Plan {
  readonly application: Application;
  readonly user: User;
  readonly scopes: string[];
}

/** Assertions already verified while identifying the client, by the request's parsed parameters. */
const verifiedByParams = new WeakMap<object, VerifiedAssertion>();

/** Declared required: the token endpoint refused a request without it. */
function assertionOf(params: Readonly<Record<string, string>>): string {
  return params.assertion ?? '';
}

/**
 * The JWT bearer authorization grant: an application exchanges a JWT it signed with its own key,
 * whose sub names a user of this instance, for an access token acting as that user. The
 * application is the assertion's iss (its client id); separate client authentication is optional,
 * and when present must be the same application. No refresh token is issued: the application can
 * sign a new assertion whenever it needs a token, so a long-lived credential would only add risk.
 * @see RFC 7523 §2.1, §3, §3.1; RFC 7521 §4.1
 */
export const jwtBearer: GrantModule<Plan> = {
  grantType: JWT_BEARER_GRANT,
  alias: 'jwt_bearer',
  label: 'JWT bearer',
  summary: 'A client that exchanges a signed JWT assertion for a token (RFC 7523); needs its public keys.',
  parameters: [
    // RFC 7523 §2.1: "The value of the "assertion" parameter MUST contain a single JWT."
    { name: 'assertion', required: true, description: "A JWT signed with the application's key: iss its client id, sub the user name.", missing: 'The JWT bearer grant needs the assertion parameter.' },
  ],
  // The assertion, signed with the application's registered key, is what proves the client.
  clientAuth: 'identifies_client',
  preset: [JWT_BEARER_GRANT],
  // An application signs for whomever it names: its tokens never administer.
  adminApi: false,
  kindNeeds: ({ jwks, jwksUri }) =>
    jwks !== null || jwksUri !== null ? undefined : { field: 'jwks', message: 'A jwt_bearer application needs its public keys: jwks (a JWKS document) or jwksUri.' },
  checks({ application: app }) {
    const warnings: GrantWarning[] = [];
    if (app.jwks === null && app.jwksUri === null) {
      warnings.push({ id: 'assertion.no_keys', text: `the application allows the JWT bearer grant but has no public keys to check its assertions with. Fix: ${commandLine(['apps', 'update', app.clientId, '--jwks', placeholder('file')])} (or --jwks-uri <url>)` });
    }
    if (app.adminApi && app.grantTypes.length === 1) {
      warnings.push({ id: 'admin.grant_not_allowed', text: 'the application may use the admin API, but its only grant is the JWT bearer grant, whose tokens never act on the admin API (admin.grant_not_allowed). Give it the client_credentials or password grant.' });
    }
    return warnings;
  },
  instanceChecks({ applications, users }) {
    const admins = users.filter((u) => u.active && u.roles.includes(ADMIN_ROLE)).map((u) => u.userName);
    if (admins.length === 0) return [];
    return applications.map((app) => ({
      id: 'jwt_bearer_can_act_as_admin',
      severity: 'warning' as const,
      title: 'An application can sign tokens for administrators',
      detail: `Application ${appLabel(app)} is allowed the JWT bearer grant: whoever holds its signing key can get tokens for any user it names, including the administrators ${admins.join(', ')}, and call every hosted API with their roles (the admin API never accepts such tokens).`,
      fix: 'Keep the grant only where the key holder is trusted with every user it may name; otherwise remove jwt_bearer from its grants (the command keeps the others).',
      command: commandLine(['apps', 'update', app.clientId, '--grants', app.grantTypes.filter((g) => g !== JWT_BEARER_GRANT).join(',')]),
      link: appLink(app),
      target: app.clientId,
    }));
  },
  example: { params: () => ['-d', 'assertion=<signed JWT>'], immediate: false },
  createHandler: jwtBearerHandler,
};

function jwtBearerHandler(deps: GrantDeps): GrantHandler<Plan> {
  async function verify(assertion: string, app: Application): Promise<VerifiedAssertion> {
    return verifyAssertion(deps, 'grant', assertion, app);
  }

  return {
    async identifyClient(_req, params, context): Promise<AuthenticatedClient> {
      const assertion = assertionOf(params);
      const { iss } = unverifiedClaims('grant', assertion);
      // What the assertion said, for the refusal's facts (built only when refusing).
      const facts = () => assertionFacts(deps, assertion);
      if (typeof iss !== 'string' || iss === '') throw assertionError('grant', 'assertion.missing_claim', 'The assertion has no iss claim (the client id).').withFacts({ ...facts(), claim: 'iss' });
      context.clientId = iss.slice(0, 200);
      if (params.client_id !== undefined && params.client_id !== iss) {
        throw assertionError('grant', 'assertion.wrong_client', `client_id ${JSON.stringify(params.client_id.slice(0, 100))} differs from the assertion's iss ${JSON.stringify(iss.slice(0, 100))}.`)
          .withFacts({ ...facts(), expectedIssuer: factString(params.client_id), requestedClientId: factString(params.client_id) });
      }
      const app = deps.cache.peekApplicationByClientId(iss) ?? (await deps.cache.applicationByClientId(iss));
      if (app === undefined) {
        // The answer and the work of a known client's bad signature (assertions/stand-in.ts).
        await spendSignatureCheck(assertion);
        throw assertionError('grant', 'assertion.unknown_issuer', `No application has client id ${JSON.stringify(iss.slice(0, 100))} (the assertion's iss).`).withFacts(facts());
      }
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
          throw assertionError('grant', 'assertion.wrong_client', `The assertion's iss ${JSON.stringify(iss.slice(0, 100))} is not the authenticated client ${app.clientId}.`)
            .withFacts(assertionFacts(deps, assertion, app));
        }
        verified = await verify(assertion, app);
      }
      if (verified.iss !== app.clientId) {
        throw assertionError('grant', 'assertion.wrong_client', `The assertion's iss ${JSON.stringify(verified.iss.slice(0, 100))} is not the authenticated client ${app.clientId}.`)
          .withFacts(assertionFacts(deps, assertion, app));
      }
      ctx.refusal.userName = verified.sub.slice(0, 200);
      const user = await deps.cache.userByName(verified.sub);
      if (user === undefined) {
        throw assertionError('grant', 'assertion.unknown_user', `No user is named ${JSON.stringify(verified.sub.slice(0, 100))} (the assertion's sub).`, 'The user named by the assertion is not known.')
          .withFacts({ ...assertionFacts(deps, assertion, app), userExists: false });
      }
      if (!user.active) {
        throw invalidGrant.withReason('user.inactive').withDescription(`The user ${user.userName} is inactive. An administrator must activate it.`);
      }
      // RFC 8707: the scopes of a token for resources are those the resources accept.
      const scopes = fitScopes(ctx.resources, await grantedScopes(deps.storage, app, ctx.params.scope), ctx.params.scope !== undefined);
      // Last: a refused request leaves its jti unused, so the client can fix the cause and retry.
      await consumeJti(deps, 'grant', ctx.req, app.clientId, verified);
      return { application: app, user, scopes };
    },

    issue(plan, ctx) {
      // RFC 7523 §3.1 does not call for a refresh token: the application signs a new assertion instead.
      return issueTokens(deps, { application: plan.application, userId: plan.user.id, scopes: plan.scopes, grantType: JWT_BEARER_GRANT, withRefreshToken: false, audience: audienceOf(ctx.resources), jkt: ctx.dpopJkt });
    },
  };
}
