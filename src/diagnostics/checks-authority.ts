import { ADMIN_ROLE, CONSOLE_CLIENT_ID } from '../registry/bootstrap.js';
import { type IdentityProvider } from '../domain/model.js';
import { appLabel, appLink, commandLine, type Finding, type Snapshot } from './findings.js';

/**
 * Checks on who can act as an administrator: applications allowed the admin API and identity
 * providers that name users by a claim the user can choose. (Applications that can sign for any
 * user while administrators exist: the JWT bearer grant's instanceChecks.)
 */

/**
 * Claims a user can usually set for themselves at an identity provider (a display name, a chosen
 * user name, an unverified e-mail address): mapping users by them lets anyone who can sign up there
 * become the local user of that name. `sub` (and ids the provider assigns) cannot be chosen.
 */
export const USER_CHOSEN_CLAIMS: ReadonlySet<string> = new Set(['preferred_username', 'name', 'nickname', 'given_name', 'family_name', 'email', 'upn', 'unique_name', 'username']);

export function adminApiApplications(s: Snapshot): Finding[] {
  return s.active
    .filter((app) => app.adminApi && app.clientId !== CONSOLE_CLIENT_ID)
    .map((app) => {
      const user = app.appUserId === null ? undefined : s.users.get(app.appUserId);
      const acts = user?.roles.includes(ADMIN_ROLE) === true && app.grantTypes.includes('client_credentials') ? ` With client credentials it administers as ${user.userName}, who has the admin role.` : '';
      return {
        id: 'admin_api_application',
        severity: 'warning' as const,
        title: 'An application may administer this instance',
        detail: `Application ${appLabel(app)} is allowed the admin API: its tokens with the scope latchkey.admin whose user has the admin role can create applications, grant roles and read the registry.${acts} Keep its secret like an administrator password.`,
        fix: 'If it no longer needs to administer the instance, switch the admin API off for it.',
        command: commandLine(['apps', 'update', app.clientId, '--admin-api', 'false']),
        link: appLink(app),
        target: app.clientId,
      };
    });
}

export function userChosenIdpClaims(providers: readonly IdentityProvider[]): Finding[] {
  return providers
    .filter((p) => p.active && p.userField === 'user_name' && USER_CHOSEN_CLAIMS.has(p.userClaim))
    .map((p) => ({
      id: 'idp_user_claim_choosable',
      severity: 'warning' as const,
      title: 'An identity provider maps users by a claim its users can choose',
      detail: `Identity provider "${p.name}" (${p.issuer}) matches the claim ${p.userClaim} to local user names. At most providers a user can choose that value (or sign up with it): whoever gets a token there with ${p.userClaim} "admin" acts here as the local admin on every hosted API.`,
      fix: 'Map users by a claim the provider assigns and nobody can choose (sub, or an immutable object id), and give the matching local users that value.',
      command: commandLine(['idps', 'update', p.name, '--user-claim', 'sub']),
      link: `#/idps/${encodeURIComponent(p.name)}`,
      target: p.name,
    }));
}
