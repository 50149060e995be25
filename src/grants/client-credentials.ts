import { commandLine, placeholder, type Word } from '../core/shell.js';
import { unauthorizedClient } from '../errors/errors.js';
import type { Application, User } from '../domain/model.js';
import { issueTokens } from './issue.js';
import { parseScopeParam, resolveRequestedScopes } from './scope.js';
import type { GrantModule, GrantWarning } from './types.js';

export const CLIENT_CREDENTIALS_PROPERTY = 'glide.oauth.inbound.client.credential.grant_type.enabled';
const PROPERTY = CLIENT_CREDENTIALS_PROPERTY;

interface Plan {
  readonly application: Application;
  readonly user: User;
  readonly scopes: string[];
}

const fix = (words: readonly Word[]) => `Fix: ${commandLine(words)}`;

/**
 * Client credentials: the token acts as the application's "OAuth Application User".
 * @see RFC 6749 §4.4
 */
export const clientCredentials: GrantModule<Plan> = {
  grantType: 'client_credentials',
  label: 'Client credentials',
  summary: 'A service calling APIs as itself (machine to machine). Tokens act as an application user.',
  parameters: [],
  clientAuth: 'confidential',
  publicClientReason: 'grant.client_credentials_public_client',
  preset: ['client_credentials'],
  adminApi: true,
  checks({ application: app, appUser: user, properties }) {
    const id = app.clientId;
    const warnings: GrantWarning[] = [];
    if (app.public) warnings.push({ id: 'grant.client_credentials_public_client', text: `the application is public, and public clients cannot use client_credentials. ${fix(['apps', 'update', id, '--public', 'false'])}` });
    if (app.appUserId === null) {
      warnings.push({ id: 'application_user.missing', text: `the application allows client_credentials but has no application user, so token requests will be refused (application_user.missing). ${fix(['apps', 'update', id, '--app-user', placeholder('user-name')])}` });
    } else if (user !== undefined) {
      if (!user.active) warnings.push({ id: 'application_user.inactive', text: `the application user ${user.userName} is inactive (application_user.inactive). ${fix(['users', 'update', user.userName, '--active', 'true'])}` });
      if (app.adminApi && !user.roles.includes('admin')) {
        warnings.push({ id: 'admin.role_missing', text: `the application may use the admin API, but its application user ${user.userName} lacks the admin role, so the admin API refuses its client-credentials tokens (admin.role_missing). ${fix(['users', 'update', user.userName, '--roles', [...user.roles, 'admin'].join(',')])}` });
      }
    }
    if (!properties[PROPERTY]) {
      warnings.push({ id: 'grant.client_credentials_disabled', text: `the client_credentials grant is switched off for this instance (${PROPERTY} is false, the default). ${fix(['properties', 'set', PROPERTY, 'true'])}` });
    }
    return warnings;
  },
  example: { params: () => [], immediate: true },
  createHandler(deps) {
    return {
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
      issue(plan) {
        // RFC 6749 §4.4.3: "A refresh token SHOULD NOT be included."
        return issueTokens(deps, { application: plan.application, userId: plan.user.id, scopes: plan.scopes, grantType: 'client_credentials', withRefreshToken: false });
      },
    };
  },
};
