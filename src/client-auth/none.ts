import type { ClientAuthMethod } from './types.js';

/**
 * none: a public client identifies itself with client_id only.
 * @see RFC 6749 §2.1, §3.2.1
 */
export const noClientAuth: ClientAuthMethod = {
  name: 'none',
  presentIn: (req, params) =>
    params.client_id !== undefined &&
    params.client_secret === undefined &&
    req.headers.authorization === undefined &&
    // A client_id beside a client assertion belongs to private_key_jwt (RFC 7523 §3.2).
    params.client_assertion === undefined &&
    params.client_assertion_type === undefined,
  extract: (_req, params) => ({ method: 'none', clientId: params.client_id ?? '' }),
};
