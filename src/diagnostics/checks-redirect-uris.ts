import { shown } from '../core/shell.js';
import { CONSOLE_CLIENT_ID } from '../registry/bootstrap.js';
import { judgeRedirectUri, repairedRedirectUris, REDIRECT_URI_RULES } from '../registry/redirect-uris.js';
import type { Application } from '../domain/model.js';
import { appLabel, appLink, commandLine, type Finding, type Snapshot } from './findings.js';

/**
 * Stored redirect URIs outside the registration rules (registry/redirect-uris.ts): registered
 * before the rules, or written to the database directly. `redirect_uri_not_https` for http off
 * loopback (codes would travel in clear text), `redirect_uri_invalid` for the rest (script and
 * local-file schemes, control characters, user info …). Both findings of an application carry the
 * same command: the whole list as it should be, because `apps update` checks every URI it is given.
 */
export function redirectUris(s: Snapshot): Finding[] {
  const out: Finding[] = [];
  for (const app of s.active) {
    const judged = app.redirectUris.map((uri) => ({ uri, verdict: judgeRedirectUri(uri) }));
    const http = judged.filter((j) => !j.verdict.ok && j.verdict.kind === 'not_https').map((j) => j.uri);
    const bad = judged.flatMap((j) => (!j.verdict.ok && j.verdict.kind === 'invalid' ? [`${shown(j.uri)} ${j.verdict.problem}`] : []));
    if (http.length === 0 && bad.length === 0) continue;
    const { fix, command } = repair(app);
    if (http.length > 0) {
      out.push({
        id: 'redirect_uri_not_https',
        severity: 'warning',
        title: 'A redirect URI is not https',
        detail: `Application ${appLabel(app)} has the redirect URI${http.length === 1 ? '' : 's'} ${http.map(shown).join(', ')}: authorization codes would travel unencrypted. Only 127.0.0.1, [::1] and localhost may use http (native apps may use a private-use scheme such as com.example.app:/callback).`,
        fix: isConsole(app) ? fix : `Register the https address instead. ${fix}`,
        command,
        link: appLink(app),
        target: app.clientId,
      });
    }
    if (bad.length > 0) {
      out.push({
        id: 'redirect_uri_invalid',
        severity: 'error',
        title: 'A redirect URI is outside the registration rules',
        detail: `Application ${appLabel(app)} has ${bad.length === 1 ? 'a redirect URI' : 'redirect URIs'} the registry now refuses: ${bad.join('; ')}. Authorization codes (and the browser) would be sent there. ${REDIRECT_URI_RULES}`,
        fix: isConsole(app) ? fix : `Remove ${bad.length === 1 ? 'it' : 'them'}, or register the application's real redirect URI. ${fix}`,
        command,
        link: appLink(app),
        target: app.clientId,
      });
    }
  }
  return out;
}

const isConsole = (app: Application) => app.clientId === CONSOLE_CLIENT_ID;

function repair(app: Application): { fix: string; command: string } {
  // The console's redirect URI follows the issuer and is put back at every start.
  if (isConsole(app)) {
    return {
      fix: 'Serve the instance over https and make its issuer the https address (--issuer or LATCHKEY_ISSUER): the console redirect URI follows the issuer.',
      command: 'latchkey serve --issuer https://<public-host>',
    };
  }
  const fixed = repairedRedirectUris(app.redirectUris);
  const words = fixed.length === 0 ? ['--redirect-uris', ''] : fixed.flatMap((u) => ['--redirect-uri', u]);
  return {
    fix: fixed.length === 0 ? 'The command clears the list (none of its URIs can be kept).' : 'The command keeps the other redirect URIs (--redirect-uri replaces the list).',
    command: commandLine(['apps', 'update', app.clientId, ...words]),
  };
}
