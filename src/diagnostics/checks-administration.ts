import { ADMIN_ROLE, ADMIN_USER, CONSOLE_CLIENT_ID } from '../registry/bootstrap.js';
import { isActiveAdministrator, isConsoleApplication } from '../registry/guards.js';
import { appLabel, appLink, commandLine, placeholder, type Finding, type Snapshot } from './findings.js';

/**
 * Whether the instance can still be administered. The registry refuses the changes that take that
 * away (src/registry/guards.ts: the last active administrator, the console application), so these
 * report an instance that got there anyway: a database from an older version, edited by hand, or
 * copied in part.
 */

/** The command that gives the instance an administrator again: activate one, give one the role, or create one. */
function administratorCommand(s: Snapshot): { command: string; target?: string } {
  const users = [...s.usersByName.values()];
  const inactive = users.filter((u) => !u.active && u.roles.includes(ADMIN_ROLE));
  const first = inactive.find((u) => u.userName === ADMIN_USER) ?? inactive[0];
  if (first !== undefined) return { command: commandLine(['users', 'update', first.userName, '--active', 'true']), target: first.userName };
  const admin = s.usersByName.get(ADMIN_USER);
  if (admin !== undefined && admin.active) {
    return { command: commandLine(['users', 'update', admin.userName, '--roles', [...admin.roles, ADMIN_ROLE].join(',')]), target: admin.userName };
  }
  return { command: `printf %s "$NEW_PASSWORD" | ${commandLine(['users', 'create', placeholder('user'), '--roles', ADMIN_ROLE, '--password-stdin'])}` };
}

export function noActiveAdministrator(s: Snapshot): Finding[] {
  const users = [...s.usersByName.values()];
  if (users.some(isActiveAdministrator)) return [];
  const inactive = users.filter((u) => !u.active && u.roles.includes(ADMIN_ROLE)).map((u) => u.userName);
  const { command, target } = administratorCommand(s);
  return [
    {
      id: 'no_active_administrator',
      severity: 'error',
      title: 'No active administrator',
      detail:
        `No active user has the role ${ADMIN_ROLE}: nobody can sign in to the console or use the admin API, and only the CLI on the database can change the registry.` +
        (inactive.length === 0 ? '' : ` Inactive users with the role: ${inactive.join(', ')}.`),
      fix: inactive.length > 0 ? 'Activate an administrator with the CLI (it works on the database directly).' : `Give an active user the role ${ADMIN_ROLE}, or create one, with the CLI (it works on the database directly; --roles replaces the list).`,
      command,
      link: '#/users',
      ...(target === undefined ? {} : { target }),
    },
  ];
}

export function consoleApplicationInactive(s: Snapshot): Finding[] {
  return s.apps
    .filter((app) => isConsoleApplication(app) && !app.active)
    .map((app) => ({
      id: 'console_application_inactive',
      severity: 'error' as const,
      title: 'The console application is inactive',
      detail: `Application ${appLabel(app)} is the built-in application the admin console signs in with, and it is inactive: nobody can sign in to the console (the sign-in page answers that the application is unavailable). Sessions already open last until they end.`,
      fix: 'Activate it. To keep people out of the console, deactivate their users or take away their admin role instead.',
      command: commandLine(['apps', 'update', CONSOLE_CLIENT_ID, '--active', 'true']),
      link: appLink(app),
      target: app.clientId,
    }));
}
