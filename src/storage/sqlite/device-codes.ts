import type { Database } from 'better-sqlite3';
import type { DeviceAuthorization } from '../../domain/model.js';
import { clampLimit, DEFAULT_LIST_LIMIT, EXPORT_PAGE } from '../limits.js';
import { deviceFromRow, deviceNamedArgs, deviceStatements, deviceValues, pollOutcomeOf, type DeviceCodeRow, type DeviceStatementName } from '../sql/device-codes.js';
import type { DeviceCodeStore } from '../types.js';

type Guard = <T>(what: string, fn: () => T, write?: boolean) => Promise<T>;

/** The device codes (RFC 8628) on SQLite: each operation one statement, atomic for every process on the file. */
export function sqliteDeviceCodes(db: Database, guard: Guard): DeviceCodeStore {
  const defs = deviceStatements('sqlite');
  const prepared = Object.fromEntries(Object.entries(defs).map(([name, def]) => [name, db.prepare(def.text)])) as Record<DeviceStatementName, ReturnType<Database['prepare']>>;
  const args = (name: DeviceStatementName, values: Parameters<typeof deviceNamedArgs>[1]) => deviceNamedArgs(defs[name], values);
  const what = 'device authorization';
  return {
    insert: (d: DeviceAuthorization) => guard(what, () => void prepared.deviceInsert.run(args('deviceInsert', deviceValues(d))), true),
    byUserHash: (userHash) =>
      guard(what, () => {
        const row = prepared.deviceByUserHash.get(args('deviceByUserHash', { user_hash: userHash })) as DeviceCodeRow | undefined;
        return row === undefined ? undefined : deviceFromRow(row);
      }),
    byDeviceHash: (deviceHash) =>
      guard(what, () => {
        const row = prepared.deviceByDeviceHash.get(args('deviceByDeviceHash', { device_hash: deviceHash })) as DeviceCodeRow | undefined;
        return row === undefined ? undefined : deviceFromRow(row);
      }),
    decide: (userHash, decision) =>
      guard(
        what,
        () => {
          const row = prepared.deviceDecide.get(args('deviceDecide', { user_hash: userHash, approve: decision.approve ? 1 : 0, user_id: decision.userId, auth_time: decision.authTime, now: decision.at })) as DeviceCodeRow | undefined;
          return row === undefined ? undefined : deviceFromRow(row);
        },
        true,
      ),
    poll: (deviceHash, applicationId, at) =>
      guard(
        what,
        () => {
          const row = prepared.devicePoll.get(args('devicePoll', { device_hash: deviceHash, application_id: applicationId, now: at })) as DeviceCodeRow | undefined;
          return row === undefined ? undefined : { outcome: pollOutcomeOf(row), device: deviceFromRow(row) };
        },
        true,
      ),
    deny: (id, at) => guard(what, () => prepared.deviceDeny.get(args('deviceDeny', { id, now: at })) !== undefined, true),
    listPending: (now, limit) => guard(what, () => (prepared.deviceListPending.all(args('deviceListPending', { now, limit: clampLimit(limit, DEFAULT_LIST_LIMIT) })) as DeviceCodeRow[]).map(deviceFromRow)),
    exportAll: (after, limit) => guard(what, () => (prepared.deviceExport.all(args('deviceExport', { after: after ?? '', limit: clampLimit(limit, EXPORT_PAGE) })) as DeviceCodeRow[]).map(deviceFromRow)),
    deleteExpired: (before) => guard(what, () => prepared.deviceDeleteExpired.all(args('deviceDeleteExpired', { now: before })).length, true),
  };
}
