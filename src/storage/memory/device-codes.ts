import type { DeviceAuthorization, DevicePollOutcome } from '../../domain/model.js';
import { clampLimit, DEFAULT_LIST_LIMIT, EXPORT_PAGE } from '../limits.js';
import { StorageError, type DeviceCodeStore } from '../types.js';

const copy = (d: DeviceAuthorization): DeviceAuthorization => ({ ...d, scopes: [...d.scopes], resources: [...d.resources] });

/** What one poll finds, as the SQL statement decides it (sql/device-codes.ts). */
function outcomeOf(d: DeviceAuthorization, at: number): DevicePollOutcome {
  if (d.expiresAt <= at) return 'expired';
  if (d.status === 'approved') return 'approved';
  if (d.status !== 'pending') return d.status;
  return d.lastPollAt !== null && at - d.lastPollAt < d.intervalSeconds * 1000 ? 'slow_down' : 'pending';
}

/** The device codes (RFC 8628) in memory: synchronous updates, so as atomic as the SQL ones. */
export function memoryDeviceCodes(): DeviceCodeStore {
  const byId = new Map<string, DeviceAuthorization>();
  const byDevice = new Map<string, string>();
  const byUser = new Map<string, string>();
  const set = (d: DeviceAuthorization) => {
    byId.set(d.id, d);
    return copy(d);
  };
  return {
    async insert(d) {
      if (byId.has(d.id) || byDevice.has(d.deviceHash) || byUser.has(d.userHash)) throw new StorageError('conflict', 'device authorization already exists');
      byId.set(d.id, copy(d));
      byDevice.set(d.deviceHash, d.id);
      byUser.set(d.userHash, d.id);
    },
    async byUserHash(userHash) {
      const d = byId.get(byUser.get(userHash) ?? '');
      return d === undefined ? undefined : copy(d);
    },
    async byDeviceHash(deviceHash) {
      const d = byId.get(byDevice.get(deviceHash) ?? '');
      return d === undefined ? undefined : copy(d);
    },
    async decide(userHash, decision) {
      const d = byId.get(byUser.get(userHash) ?? '');
      if (d === undefined || d.status !== 'pending' || d.expiresAt <= decision.at) return undefined;
      return set({ ...d, status: decision.approve ? 'approved' : 'denied', userId: decision.userId, authTime: decision.authTime, decidedAt: decision.at });
    },
    async poll(deviceHash, applicationId, at) {
      const d = byId.get(byDevice.get(deviceHash) ?? '');
      if (d === undefined || d.applicationId !== applicationId) return undefined;
      const outcome = outcomeOf(d, at);
      const next: DeviceAuthorization = {
        ...d,
        status: outcome === 'approved' ? 'consumed' : d.status,
        intervalSeconds: outcome === 'slow_down' ? d.intervalSeconds + 5 : d.intervalSeconds,
        lastPollAt: at,
      };
      return { outcome, device: set(next) };
    },
    async deny(id, at) {
      const d = byId.get(id);
      if (d === undefined || d.status !== 'pending' || d.expiresAt <= at) return false;
      set({ ...d, status: 'denied', decidedAt: at });
      return true;
    },
    async listPending(now, limit) {
      return [...byId.values()]
        .filter((d) => d.status === 'pending' && d.expiresAt > now)
        .sort((a, b) => b.createdAt - a.createdAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
        .slice(0, clampLimit(limit, DEFAULT_LIST_LIMIT))
        .map(copy);
    },
    async exportAll(after, limit) {
      return [...byId.values()]
        .filter((d) => d.id > (after ?? ''))
        .sort((a, b) => (a.id < b.id ? -1 : 1))
        .slice(0, clampLimit(limit, EXPORT_PAGE))
        .map(copy);
    },
    async deleteExpired(before) {
      let n = 0;
      for (const d of [...byId.values()]) {
        if (d.expiresAt >= before) continue;
        byId.delete(d.id);
        byDevice.delete(d.deviceHash);
        byUser.delete(d.userHash);
        n++;
      }
      return n;
    },
  };
}
