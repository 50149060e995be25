import { commandLine, placeholder, type Word } from '../core/shell.js';
import { unauthorizedClient } from '../errors/errors.js';
import { appLabel, appLink } from '../domain/labels.js';
import { ADMIN_ROLE } from '../registry/scopes.js';
import type { Application, User } from '../domain/model.js';
import { issueTokens } from './issue.js';
import { audienceOf, fitScopes } from './resource.js';
import { grantedScopes } from './scope.js';
import type { GrantFinding, GrantModule, GrantWarning } from './types.js';

export const CLIENT_CREDENTIALS_PROPERTY = 'glide.oauth.inbound.client.credential.grant_type.enabled';
const PROPERTY = CLIENT_CREDENTIALS_PROPERTY;

interface Plan {
  readonly application: Application;
  readonly user: User;
  readonly scopes: string[];
}

const fix = (words: readonly Word[]) => `Fix: ${commandLine(words)}`;

/** A user name for a new application user, from the application's name. */
function serviceUserName(app: Application): string {
  const slug = app.name.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 60);
  return `svc-${slug === '' ? app.clientId.slice(0, 12) : slug}`;
}

/** The doctor's finding for an application without (or with a deleted) application user: create one and set it. */
function appUserMissing(app: Application, userNamed: (name: string) => User | undefined): GrantFinding {
  const name = serviceUserName(app);
  const set = commandLine(['apps', 'update', app.clientId, '--app-user', name]);
  return {
    id: 'application_user_missing',
    severity: 'error',
    title: 'An application using client_credentials has no application user',
    detail:
      app.appUserId === null
        ? `Application ${appLabel(app)} is allowed client_credentials but has no application user, so its token requests are refused (application_user.missing).`
        : `Application ${appLabel(app)} is allowed client_credentials but its application user (id ${app.appUserId}) no longer exists, so its token requests are refused (application_user.missing).`,
    fix: `Give the application a user for its tokens to act as (a service user with just the roles it needs): create one, then set it with --app-user.`,
    command: userNamed(name) === undefined ? `${commandLine(['users', 'create', name])} && ${set}` : set,
    link: appLink(app),
  };
}

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
  switchedOff: (properties) =>
    properties[PROPERTY]
      ? undefined
      : unauthorizedClient.withReason('grant.client_credentials_disabled').withDescription(`The client_credentials grant is disabled on this instance. An administrator must set the property ${PROPERTY} to true.`).withFacts({ property: PROPERTY }),
  publicClientReason: 'grant.client_credentials_public_client',
  preset: ['client_credentials'],
  adminApi: true,
  checks({ application: app, appUser: user, properties, userNamed }) {
    const id = app.clientId;
    const warnings: GrantWarning[] = [];
    if (app.public) warnings.push({ id: 'grant.client_credentials_public_client', text: `the application is public, and public clients cannot use client_credentials. ${fix(['apps', 'update', id, '--public', 'false'])}` });
    if (user === undefined) {
      warnings.push({
        id: 'application_user.missing',
        ...(app.appUserId === null ? { text: `the application allows client_credentials but has no application user, so token requests will be refused (application_user.missing). ${fix(['apps', 'update', id, '--app-user', placeholder('user-name')])}` } : {}),
        finding: appUserMissing(app, userNamed),
      });
    } else {
      if (!user.active) {
        warnings.push({
          id: 'application_user.inactive',
          text: `the application user ${user.userName} is inactive (application_user.inactive). ${fix(['users', 'update', user.userName, '--active', 'true'])}`,
          finding: {
            id: 'application_user_inactive',
            severity: 'error',
            title: 'An application using client_credentials acts as an inactive user',
            detail: `Application ${appLabel(app)} is allowed client_credentials, but its application user ${user.userName} is inactive, so its token requests are refused (application_user.inactive) and its tokens are not accepted (token.user_inactive).`,
            fix: `Activate the user ${user.userName} (or set another, active application user: ${commandLine(['apps', 'update', id, '--app-user', placeholder('user')])}).`,
            command: commandLine(['users', 'update', user.userName, '--active', 'true']),
            link: `#/users/${encodeURIComponent(user.userName)}`,
          },
        });
      }
      if (app.adminApi && !user.roles.includes(ADMIN_ROLE)) {
        warnings.push({ id: 'admin.role_missing', text: `the application may use the admin API, but its application user ${user.userName} lacks the admin role, so the admin API refuses its client-credentials tokens (admin.role_missing). ${fix(['users', 'update', user.userName, '--roles', [...user.roles, ADMIN_ROLE].join(',')])}` });
      }
    }
    if (!properties[PROPERTY]) {
      warnings.push({ id: 'grant.client_credentials_disabled', text: `the client_credentials grant is switched off for this instance (${PROPERTY} is false, the default). ${fix(['properties', 'set', PROPERTY, 'true'])}` });
    }
    return warnings;
  },
  instanceChecks({ applications: apps, properties }) {
    if (properties[PROPERTY]) return [];
    return [
      {
        id: 'client_credentials_disabled',
        severity: 'error',
        title: 'The client_credentials grant is switched off on this instance',
        detail: `${apps.length === 1 ? 'Application' : 'Applications'} ${apps.map(appLabel).join(', ')} ${apps.length === 1 ? 'is' : 'are'} allowed client_credentials, but the property ${PROPERTY} is false, so every such token request is refused (grant.client_credentials_disabled).`,
        fix: `Set ${PROPERTY} to true (or remove client_credentials from the applications that should not use it).`,
        command: commandLine(['properties', 'set', PROPERTY, 'true']),
        link: `#/properties/${PROPERTY}`,
        target: PROPERTY,
      },
    ];
  },
  example: { params: () => [], immediate: true },
  createHandler(deps) {
    return {
      async validate(ctx) {
        // Switched off (switchedOff): the token endpoint refused the request already.
        const app = ctx.client.application;
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
        // RFC 8707: the scopes of a token for resources are those the resources accept.
        return { application: app, user, scopes: fitScopes(ctx.resources, await grantedScopes(deps.storage, app, ctx.params.scope), ctx.params.scope !== undefined) };
      },
      issue(plan, ctx) {
        // RFC 6749 §4.4.3: "A refresh token SHOULD NOT be included."
        return issueTokens(deps, { application: plan.application, userId: plan.user.id, scopes: plan.scopes, grantType: 'client_credentials', withRefreshToken: false, audience: audienceOf(ctx.resources), jkt: ctx.dpopJkt });
      },
    };
  },
};
