import { appLabel, appLink, commandLine, type Finding, type Snapshot } from './findings.js';

/**
 * Pushed authorization requests (RFC 9126, docs/par.md):
 *
 * - `par_required_without_code_flow`: an application must push its authorization requests, but
 *   it has no authorization_code grant, so it never makes one: the setting protects nothing and
 *   suggests a flow it does not have.
 */
export function parSettings(s: Snapshot): Finding[] {
  const out: Finding[] = [];
  for (const app of s.active) {
    if (app.parRequired !== true || app.grantTypes.includes('authorization_code')) continue;
    out.push({
      id: 'par_required_without_code_flow',
      severity: 'warning',
      title: 'PAR is required of an application without the authorization code flow',
      detail: `Application ${appLabel(app)} must push its authorization requests (RFC 9126), but its grants are ${app.grantTypes.join(', ') || 'none'}: it never sends one, so the requirement changes nothing.`,
      fix: 'Lift the requirement (the command), or add the authorization_code grant and a redirect URI if the application signs people in.',
      command: commandLine(['apps', 'update', app.clientId, '--par-required', 'false']),
      link: appLink(app),
      target: app.clientId,
    });
  }
  return out;
}
