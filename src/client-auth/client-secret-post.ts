import type { ClientAuthMethod } from './types.js';

/**
 * client_secret_post: client_id and client_secret as body parameters.
 * @see RFC 6749 §2.3.1 ("The parameters can only be transmitted in the request-body")
 */
export const clientSecretPost: ClientAuthMethod = {
  name: 'client_secret_post',
  presentIn: (_req, params) => params.client_secret !== undefined,
  extract: (_req, params) => ({ method: 'client_secret_post', clientId: params.client_id ?? '', clientSecret: params.client_secret ?? '' }),
};
