import { get, list, query, type Application, type Role, type Scope, type TokenRow, type User } from './api';
import { DeleteButton } from './confirm';

/**
 * The Delete buttons of the console's pages: each names, in its confirmation, what the delete
 * removes and what it revokes (counted from the admin API when the dialog opens), and reports
 * what the server says it ended.
 */

const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;
const enc = encodeURIComponent;
/** GET /tokens answers at most 1000 rows. */
const TOKEN_LIMIT = 1000;

/** "Its 3 active tokens are revoked …": the active tokens of an application or a user, counted. */
async function revokedTokens(filter: Record<string, string>, whose = ''): Promise<string> {
  const n = list<TokenRow>(await get(`/tokens${query({ ...filter, active: 'true', limit: TOKEN_LIMIT })}`), 'tokens').length;
  const what = n >= TOKEN_LIMIT ? `${TOKEN_LIMIT} or more active tokens${whose} are` : n === 1 ? `1 active token${whose} is` : `${n} active tokens${whose} are`;
  return `Its ${what} revoked at once, on every instance.`;
}

function named(names: readonly string[]): string {
  return names.length <= 5 ? names.join(', ') : `${names.slice(0, 5).join(', ')} and ${names.length - 5} more`;
}

export function DeleteApplicationButton(props: { app: Pick<Application, 'clientId' | 'name'>; onDeleted: (message: string) => void; small?: boolean }) {
  const { clientId, name } = props.app;
  return (
    <DeleteButton<{ revoked: { tokens: number } }>
      what={`application “${name}”`}
      path={`/applications/${enc(clientId)}`}
      small={props.small}
      consequences={async () => [
        `The application “${name}” (client ID ${clientId}) is removed: token requests with its client ID are refused from then on.`,
        await revokedTokens({ application: clientId }),
        'This cannot be undone.',
      ]}
      onDeleted={(a) => props.onDeleted(`Deleted application “${name}”. Revoked ${plural(a.revoked.tokens, 'token')}.`)}
    />
  );
}

export function DeleteUserButton(props: { user: Pick<User, 'userName'>; onDeleted: (message: string) => void; disabled?: boolean }) {
  const { userName } = props.user;
  return (
    <DeleteButton<{ ended: { sessions: number; tokens: number } }>
      what={`user ${userName}`}
      path={`/users/${enc(userName)}`}
      small
      disabled={props.disabled}
      consequences={async () => [
        `The user ${userName} is removed: it can no longer sign in.`,
        'Every session of the user (sign-in and console) ends.',
        await revokedTokens({ user: userName }, ' (its sign-ins, and applications acting as it)'),
        'This cannot be undone.',
      ]}
      onDeleted={(a) => props.onDeleted(`Deleted user ${userName}. Ended ${plural(a.ended.sessions, 'session')}; revoked ${plural(a.ended.tokens, 'token')}.`)}
    />
  );
}

export function DeleteScopeButton(props: { scope: Pick<Scope, 'name'>; onDeleted: (message: string) => void }) {
  const { name } = props.scope;
  return (
    <DeleteButton<{ fromApplications: readonly string[]; revoked: { tokens: number } }>
      what={`scope ${name}`}
      path={`/scopes/${enc(name)}`}
      small
      consequences={async () => {
        const apps = list<Application>(await get('/applications'), 'applications').filter((a) => a.scopes.includes(name));
        return [
          `The scope ${name} is removed: no application can ask for it any more.`,
          'Every active token that carries it is revoked at once, on every instance.',
          ...(apps.length === 0 ? [] : [`${plural(apps.length, 'application lists', 'applications list')} it: ${named(apps.map((a) => a.name))}.`]),
        ];
      }}
      onDeleted={(a) =>
        props.onDeleted(`Deleted scope ${name}.${a.fromApplications.length === 0 ? '' : ` Removed from ${plural(a.fromApplications.length, 'application')}.`} Revoked ${plural(a.revoked.tokens, 'token')}.`)
      }
    />
  );
}

export function DeleteRoleButton(props: { role: Pick<Role, 'name'>; onDeleted: (message: string) => void }) {
  const { name } = props.role;
  return (
    <DeleteButton<{ fromUsers: readonly string[] }>
      what={`role ${name}`}
      path={`/roles/${enc(name)}`}
      small
      consequences={async () => {
        const holders = list<User>(await get('/users'), 'users').filter((u) => u.roles.includes(name));
        return [
          `The role ${name} is removed.`,
          ...(holders.length === 0 ? ['No user holds it.'] : [`${plural(holders.length, 'user holds', 'users hold')} it: ${named(holders.map((u) => u.userName))}; taking it from them ends their sessions.`]),
        ];
      }}
      onDeleted={(a) => props.onDeleted(`Deleted role ${name}.${a.fromUsers.length === 0 ? '' : ` Removed from ${plural(a.fromUsers.length, 'user')}.`}`)}
    />
  );
}
