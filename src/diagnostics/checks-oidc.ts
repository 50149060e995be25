import { CLAIM_SCOPE_DESCRIPTIONS } from '../registry/scopes.js';
import { OFFLINE_ACCESS_SCOPE, OPENID_SCOPE } from '../registry/oidc-scopes.js';
import type { Application } from '../domain/model.js';
import { appLabel, appLink, commandLine, type Finding, type Snapshot } from './findings.js';

/**
 * OpenID Connect settings of an application that cannot do what they seem to (docs/openid-connect.md):
 *
 * - `openid_without_code_flow`: the scope openid is allowed, but ID tokens come only from the
 *   authorization code flow (and refreshes of it), which the application does not have.
 * - `offline_access_without_refresh`: offline_access is allowed (Core 1.0 §11), but without the
 *   refresh_token grant no refresh token is ever issued.
 * - `claim_scopes_without_openid`: profile, email, phone or address is allowed without openid:
 *   UserInfo answers only tokens with openid (userinfo.openid_scope_missing) and no ID token
 *   carries them, so the scopes give nothing.
 */

const CODE = 'authorization_code';
const REFRESH = 'refresh_token';
const CLAIM_SCOPES = Object.keys(CLAIM_SCOPE_DESCRIPTIONS);

const grantsWith = (app: Application, grant: string) => commandLine(['apps', 'update', app.clientId, '--grants', [...app.grantTypes, grant].join(',')]);
const scopesWithout = (app: Application, drop: readonly string[]) => commandLine(['apps', 'update', app.clientId, '--scopes', app.scopes.filter((s) => !drop.includes(s)).join(',')]);

export function openIdSettings(s: Snapshot): Finding[] {
  const out: Finding[] = [];
  for (const app of s.active) {
    const has = (scope: string) => app.scopes.includes(scope);
    const code = app.grantTypes.includes(CODE);
    if (has(OPENID_SCOPE) && !code) {
      out.push({
        id: 'openid_without_code_flow',
        severity: 'warning',
        title: 'The scope openid is allowed but no ID token can be issued',
        detail: `Application ${appLabel(app)} may request openid, but ID tokens come only from the authorization code flow, and its grants are ${app.grantTypes.join(', ') || 'none'}: a request with openid gets an access token and no ID token.`,
        fix: app.redirectUris.length === 0
          ? `Add the authorization_code grant and a redirect URI if the application signs people in (--grants …,authorization_code --redirect-uri https://…), or stop allowing openid.`
          : 'Add the authorization_code grant if the application signs people in, or stop allowing openid (the command removes it).',
        command: app.redirectUris.length === 0 ? scopesWithout(app, [OPENID_SCOPE]) : grantsWith(app, CODE),
        link: appLink(app),
        target: app.clientId,
      });
    }
    if (has(OFFLINE_ACCESS_SCOPE) && !app.grantTypes.includes(REFRESH)) {
      out.push({
        id: 'offline_access_without_refresh',
        severity: 'warning',
        title: 'offline_access is allowed but no refresh token can be issued',
        detail: `Application ${appLabel(app)} may request offline_access (OpenID Connect Core 1.0 §11), which asks for a refresh token, but it does not have the refresh_token grant: the scope is granted and nothing comes of it.`,
        fix: 'Add the refresh_token grant (the command keeps its other grants), or stop allowing offline_access.',
        command: grantsWith(app, REFRESH),
        link: appLink(app),
        target: app.clientId,
      });
    }
    const claimScopes = CLAIM_SCOPES.filter(has);
    if (claimScopes.length > 0 && !has(OPENID_SCOPE)) {
      out.push({
        id: 'claim_scopes_without_openid',
        severity: 'warning',
        title: 'Claim scopes are allowed without openid',
        detail: `Application ${appLabel(app)} may request ${claimScopes.join(', ')} but not openid: UserInfo answers only tokens that have openid (reason userinfo.openid_scope_missing) and only sign-ins with openid get an ID token, so these scopes release no claim.`,
        fix: code ? 'Allow openid as well (the command keeps its other scopes), and have the application request it.' : `Remove ${claimScopes.length === 1 ? 'it' : 'them'}: without the authorization code flow the application cannot sign people in.`,
        command: code ? commandLine(['apps', 'update', app.clientId, '--scopes', [...app.scopes, OPENID_SCOPE].join(',')]) : scopesWithout(app, claimScopes),
        link: appLink(app),
        target: app.clientId,
      });
    }
  }
  return out;
}
