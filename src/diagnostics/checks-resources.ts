import type { Application, ResourceRecord } from '../domain/model.js';
import { CONSOLE_CLIENT_ID } from '../registry/bootstrap.js';
import { resourceAllowed, SERVER_SCOPES } from '../registry/resources.js';
import { commandLine, placeholder, type Finding, type Snapshot } from './findings.js';

/**
 * `resource_unreachable` (RFC 8707): a registered external resource no active application can get
 * a useful token for. Precisely, with the active applications other than the console:
 * - every one of them is limited to other resources (Application.resources set and not listing
 *   it), so each token request naming it is refused (resource.not_allowed); or
 * - the resource accepts some scopes, and none of the applications that may request it is allowed
 *   any of them, so a token for it would carry no scope the resource accepts.
 * Not reported while there is no active application at all (nothing is reachable then, and the
 * other findings say why), nor for hosted APIs and MCP servers (api_scope_unattainable covers their scopes).
 */
export function unreachableResources(s: Snapshot, resources: readonly ResourceRecord[]): Finding[] {
  const apps: readonly Application[] = s.active.filter((a) => a.clientId !== CONSOLE_CLIENT_ID);
  if (apps.length === 0) return [];
  return resources.flatMap((r): Finding[] => {
    const may = apps.filter((a) => resourceAllowed(a, r.uri));
    if (may.length === 0) {
      return [
        {
          id: 'resource_unreachable',
          severity: 'warning',
          title: 'No application may request a registered resource',
          detail: `The resource ${r.uri} (${r.name}) is registered, but every active application is limited to other resources, so every token request naming it is refused (resource.not_allowed).`,
          fix: `Allow it for the applications that call it (add it to their resources), or remove the resource if nothing calls it any more (${commandLine(['resources', 'remove', r.uri])}).`,
          command: commandLine(['apps', 'update', placeholder('client-id'), '--resources', placeholder(`their resources,${r.uri}`)]),
          link: '#/resources',
          target: r.uri,
        },
      ];
    }
    const accepted = r.scopes.filter((x) => !SERVER_SCOPES.includes(x));
    if (accepted.length === 0 || may.some((a) => a.scopes.some((x) => accepted.includes(x)))) return [];
    return [
      {
        id: 'resource_unreachable',
        severity: 'warning',
        title: 'No application may get a scope a registered resource accepts',
        detail: `The resource ${r.uri} (${r.name}) accepts only ${accepted.join(', ')}, and none of the applications that may request it is allowed any of them: a token for it would carry no scope it accepts (explicit requests are refused: resource.scope_not_accepted).`,
        fix: `Allow one of ${accepted.join(', ')} to the applications that call it, or change the scopes the resource accepts.`,
        command: commandLine(['resources', 'update', r.uri, '--scopes', placeholder('a,b')]),
        link: '#/resources',
        target: r.uri,
      },
    ];
  });
}
