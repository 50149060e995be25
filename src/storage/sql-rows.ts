import type { Refusal } from './types.js';

/**
 * Row shapes both SQL adapters share (the refusals table has the same columns and types in SQLite
 * and PostgreSQL).
 */
export interface RefusalRow {
  request_id: string;
  at: number;
  endpoint: string;
  status: number;
  error: string;
  reason: string;
  description: string;
  hint: string | null;
  client_id: string | null;
  application_name: string | null;
  user_name: string | null;
  remote_address: string | null;
}

export function refusalFromRow(r: RefusalRow): Refusal {
  return {
    requestId: r.request_id,
    at: r.at,
    endpoint: r.endpoint,
    status: r.status,
    error: r.error,
    reason: r.reason,
    description: r.description,
    hint: r.hint,
    clientId: r.client_id,
    applicationName: r.application_name,
    userName: r.user_name,
    remoteAddress: r.remote_address,
  };
}
