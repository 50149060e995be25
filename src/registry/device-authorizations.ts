import { recordChange } from '../audit/log.js';
import type { Clock } from '../core/clock.js';
import type { DeviceAuthorization } from '../domain/model.js';
import type { Storage } from '../storage/types.js';
import { RegistryError } from './errors.js';

/**
 * Device authorizations (RFC 8628, grants/device-code.ts) waiting for a user to enter their code
 * on /oauth/device: listed by id (never a code: device and user codes are stored as hashes only),
 * and denied by an administrator (the device's next poll gets access_denied, device.access_denied).
 * The CLI (`latchkey devices`), the admin API (/device-authorizations) and the console's Devices
 * page show the same.
 */

type Deps = {
  storage: Pick<Storage, 'deviceCodes' | 'applications'> & Partial<Pick<Storage, 'audit'>>;
  clock: Clock;
  actor?: string | undefined;
};

/** A pending device authorization with its application's client id and name (null: the application was deleted). */
export interface PendingDevice extends DeviceAuthorization {
  readonly clientId: string | null;
  readonly applicationName: string | null;
}

/** The most recent pending device authorizations, newest first (at most `limit`, default 100). */
export async function listPendingDevices(deps: Deps, limit = 100): Promise<PendingDevice[]> {
  const pending = await deps.storage.deviceCodes.listPending(deps.clock.now(), limit);
  const names = new Map<string, { clientId: string; name: string } | null>();
  const out: PendingDevice[] = [];
  for (const d of pending) {
    if (!names.has(d.applicationId)) {
      const app = await deps.storage.applications.byId(d.applicationId);
      names.set(d.applicationId, app === undefined ? null : { clientId: app.clientId, name: app.name });
    }
    const app = names.get(d.applicationId) ?? null;
    out.push({ ...d, clientId: app?.clientId ?? null, applicationName: app?.name ?? null });
  }
  return out;
}

/** Denies a pending device authorization (audited as device.denied); throws device_authorization_not_found. */
export async function denyDevice(deps: Deps, id: string): Promise<void> {
  if (!(await deps.storage.deviceCodes.deny(id, deps.clock.now()))) {
    throw new RegistryError('device_authorization_not_found', `No pending device authorization has the id "${id.slice(0, 40)}" (decided, expired or unknown). List them with \`latchkey devices list\`.`, 'id');
  }
  await recordChange(deps, { action: 'device.denied', target: id, before: null, after: { reason: 'denied by an administrator' } });
}

/** What administrators see of a pending authorization (CLI JSON, admin API): never a code, nor the codes' hashes. */
export interface DeviceAuthorizationView {
  readonly id: string;
  readonly clientId: string | null;
  readonly applicationName: string | null;
  readonly scopes: readonly string[];
  readonly resources: readonly string[];
  readonly createdAt: number;
  readonly expiresAt: number;
  readonly intervalSeconds: number;
  readonly lastPollAt: number | null;
}

export function deviceView(d: PendingDevice): DeviceAuthorizationView {
  return { id: d.id, clientId: d.clientId, applicationName: d.applicationName, scopes: d.scopes, resources: d.resources, createdAt: d.createdAt, expiresAt: d.expiresAt, intervalSeconds: d.intervalSeconds, lastPollAt: d.lastPollAt };
}
