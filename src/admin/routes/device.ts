import type { DeviceAuthorization } from '../../domain/model.js';
import { notFound } from '../http.js';
import { audit } from './helpers.js';
import type { AdminRoute, RouteContext } from './types.js';

/**
 * Device authorizations (RFC 8628) waiting for a user: listed by their id (never a code: both are
 * stored as hashes only), and denied by an administrator (the device's next poll gets
 * access_denied). Approved ones become tokens, listed with the tokens (grant_type device_code).
 */

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

async function view(ctx: RouteContext, d: DeviceAuthorization): Promise<DeviceAuthorizationView> {
  const app = await ctx.latchkey.storage.applications.byId(d.applicationId);
  return { id: d.id, clientId: app?.clientId ?? null, applicationName: app?.name ?? null, scopes: d.scopes, resources: d.resources, createdAt: d.createdAt, expiresAt: d.expiresAt, intervalSeconds: d.intervalSeconds, lastPollAt: d.lastPollAt };
}

export const DEVICE_ROUTES: readonly AdminRoute[] = [
  {
    method: 'GET',
    path: '/device-authorizations',
    tag: 'device authorizations',
    summary: 'Device authorizations (RFC 8628) waiting for a user to enter their code on /oauth/device, newest first (at most 100): application, scopes, resources, expiry, polling interval and last poll; never a code',
    async handler(ctx) {
      const now = ctx.latchkey.clock.now();
      const pending = await ctx.latchkey.storage.deviceCodes.listPending(now, 100);
      return { pending: await Promise.all(pending.map((d) => view(ctx, d))) };
    },
  },
  {
    method: 'DELETE',
    path: '/device-authorizations/:id',
    tag: 'device authorizations',
    summary: 'Denies a pending device authorization by its id: the device polling for it gets access_denied (device.access_denied); audited as device.denied',
    async handler(ctx) {
      const id = ctx.params.id ?? '';
      const now = ctx.latchkey.clock.now();
      if (!(await ctx.latchkey.storage.deviceCodes.deny(id, now))) {
        throw notFound(`No pending device authorization has the id "${id.slice(0, 40)}" (decided, expired or unknown). List them with GET /admin/api/v1/device-authorizations.`);
      }
      await audit(ctx, { action: 'device.denied', target: id, after: { reason: 'denied by an administrator' } });
      return { id, denied: true };
    },
  },
];
