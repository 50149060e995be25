import type { DeviceAuthorization } from '../../domain/model.js';
import { clampLimit, DEFAULT_LIST_LIMIT, EXPORT_PAGE } from '../limits.js';
import { deviceArgs, deviceFromRow, deviceStatements, deviceValues, pollOutcomeOf, type DeviceCodeRow, type DeviceParam, type DeviceStatementName } from '../sql/device-codes.js';
import type { DeviceCodeStore } from '../types.js';

/** Runs one named statement (prepared once per connection) and answers its rows; errors are storage errors. */
export type DeviceQuery = (what: string, name: string, text: string, values: unknown[], write: boolean) => Promise<DeviceCodeRow[]>;

/**
 * The device codes (RFC 8628) on PostgreSQL: each operation one statement; concurrent polls and
 * decisions of one code, on any instance, take turns on its row lock (see sql/device-codes.ts).
 */
export function postgresDeviceCodes(query: DeviceQuery): DeviceCodeStore {
  const defs = deviceStatements('postgres');
  const what = 'device authorization';
  const rows = (name: DeviceStatementName, values: Partial<Record<DeviceParam, string | number | null>>, write = false) => {
    // PostgreSQL text cannot hold U+0000: no stored key has one, so such a lookup finds nothing.
    if (Object.values(values).some((v) => typeof v === 'string' && v.includes('\u0000'))) return Promise.resolve([]);
    return query(what, `latchkey_${name}`, defs[name].text, deviceArgs(defs[name], values), write);
  };
  return {
    insert: async (d: DeviceAuthorization) => void (await rows('deviceInsert', deviceValues(d), true)),
    byUserHash: async (userHash) => {
      const [row] = await rows('deviceByUserHash', { user_hash: userHash });
      return row === undefined ? undefined : deviceFromRow(row);
    },
    byDeviceHash: async (deviceHash) => {
      const [row] = await rows('deviceByDeviceHash', { device_hash: deviceHash });
      return row === undefined ? undefined : deviceFromRow(row);
    },
    decide: async (userHash, decision) => {
      const [row] = await rows('deviceDecide', { user_hash: userHash, approve: decision.approve ? 1 : 0, user_id: decision.userId, auth_time: decision.authTime, now: decision.at }, true);
      return row === undefined ? undefined : deviceFromRow(row);
    },
    poll: async (deviceHash, applicationId, at) => {
      const [row] = await rows('devicePoll', { device_hash: deviceHash, application_id: applicationId, now: at }, true);
      return row === undefined ? undefined : { outcome: pollOutcomeOf(row), device: deviceFromRow(row) };
    },
    deny: async (id, at) => (await rows('deviceDeny', { id, now: at }, true)).length === 1,
    listPending: async (now, limit) => (await rows('deviceListPending', { now, limit: clampLimit(limit, DEFAULT_LIST_LIMIT) })).map(deviceFromRow),
    exportAll: async (after, limit) => (await rows('deviceExport', { after: after ?? '', limit: clampLimit(limit, EXPORT_PAGE) })).map(deviceFromRow),
    deleteExpired: async (before) => (await rows('deviceDeleteExpired', { now: before }, true)).length,
  };
}
