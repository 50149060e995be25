import { denyDevice, deviceView, listPendingDevices } from '../../registry/device-authorizations.js';
import { deps } from './helpers.js';
import type { AdminRoute } from './types.js';

/**
 * Device authorizations (RFC 8628) waiting for a user: listed by their id (never a code: both are
 * stored as hashes only), and denied by an administrator (the device's next poll gets
 * access_denied). Approved ones become tokens, listed with the tokens (grant_type device_code).
 * The same as `latchkey devices list|deny` (src/registry/device-authorizations.ts).
 */

export type { DeviceAuthorizationView } from '../../registry/device-authorizations.js';

export const DEVICE_ROUTES: readonly AdminRoute[] = [
  {
    method: 'GET',
    path: '/device-authorizations',
    tag: 'device authorizations',
    summary: 'Device authorizations (RFC 8628) waiting for a user to enter their code on /oauth/device, newest first (at most 100): application, scopes, resources, expiry, polling interval and last poll; never a code',
    async handler(ctx) {
      return { pending: (await listPendingDevices(deps(ctx))).map(deviceView) };
    },
  },
  {
    method: 'DELETE',
    path: '/device-authorizations/:id',
    tag: 'device authorizations',
    summary: 'Denies a pending device authorization by its id: the device polling for it gets access_denied (device.access_denied); audited as device.denied',
    async handler(ctx) {
      const id = ctx.params.id ?? '';
      await denyDevice(deps(ctx), id);
      return { id, denied: true };
    },
  },
];
