import { DAY, ROTATION_PROPERTY, rotationDue } from '../jobs/rotate-keys.js';
import { ACCESS_TIMELINE, newest, onTimeline } from '../keys/keyring.js';
import { ADMIN_ROLE, ADMIN_USER } from '../registry/bootstrap.js';
import { appLabel, appLink, commandLine, type Finding, type Snapshot } from './findings.js';

/** Checks on secrets, keys and passwords that age: client secrets, the signing key, administrators' first passwords. */

export const SECRET_ROTATION_PROPERTY = 'latchkey.secrets.rotation_days';

const days = (ms: number) => Math.floor(ms / DAY);

export function secretRotation(s: Snapshot): Finding[] {
  const limit = s.props[SECRET_ROTATION_PROPERTY];
  if (limit <= 0) return [];
  const out: Finding[] = [];
  for (const app of s.active) {
    if (app.public || app.secretHash === null) continue;
    const since = app.secretRotatedAt ?? app.createdAt;
    const age = s.now - since;
    if (age < limit * DAY) continue;
    out.push({
      id: 'secret_rotation_due',
      severity: 'warning',
      title: 'A client secret is due for rotation',
      detail: `The client secret of application ${appLabel(app)} was set ${days(age)} days ago (${new Date(since).toISOString()}); ${SECRET_ROTATION_PROPERTY} is ${limit}.`,
      fix: 'Rotate the secret and give the new one to the application (the old one stops working at once), or raise the property.',
      command: commandLine(['apps', 'rotate-secret', app.clientId]),
      link: appLink(app),
      target: app.clientId,
    });
  }
  return out;
}

export function signingKeyRotation(s: Snapshot): Finding[] {
  const limit = s.props[ROTATION_PROPERTY];
  if (!rotationDue(s.keys, s.now, limit)) return [];
  const key = newest(onTimeline(s.keys, ACCESS_TIMELINE));
  if (key === undefined) return [];
  return [
    {
      id: 'signing_key_rotation_due',
      severity: 'warning',
      title: 'The JWT signing key is due for rotation',
      detail: `Signing key ${key.kid} (${key.alg}) has been signing for ${days(s.now - key.activatesAt)} days (since ${new Date(key.activatesAt).toISOString()}); ${ROTATION_PROPERTY} is ${limit}. Running servers rotate it within the hour; no server has done so.`,
      fix: 'Rotate the signing key (the new key is published before it signs; the old one stays published until its tokens expire).',
      command: commandLine(['keys', 'rotate']),
      link: '#/keys',
      target: key.kid,
    },
  ];
}

export function defaultPasswords(s: Snapshot): Finding[] {
  const out: Finding[] = [];
  for (const user of s.usersByName.values()) {
    if (!user.active || !user.roles.includes(ADMIN_ROLE) || user.passwordHash === null) continue;
    if (user.passwordChangedAt !== null && user.passwordChangedAt > user.createdAt) continue;
    const builtIn = user.userName === ADMIN_USER;
    out.push({
      id: 'admin_default_password',
      severity: builtIn ? 'error' : 'warning',
      title: builtIn ? 'The built-in admin still has its first password' : 'An administrator still has the password set at creation',
      detail: builtIn
        ? `User ${user.userName} (role ${ADMIN_ROLE}) has the password it was created with (generated or LATCHKEY_ADMIN_PASSWORD at the first start) and it was never changed.`
        : `User ${user.userName} has the role ${ADMIN_ROLE} and still has the password set when it was created (${new Date(user.createdAt).toISOString()}).`,
      fix: `Change the password of ${user.userName} (pipe the new one in; it is never printed).`,
      command: `printf %s "$NEW_PASSWORD" | ${commandLine(['users', 'update', user.userName, '--password-stdin'])}`,
      link: `#/users/${encodeURIComponent(user.userName)}`,
      target: user.userName,
    });
  }
  return out;
}
