import { header } from '../core/request.js';
import { invalidClient } from '../errors/errors.js';
import type { ClientAuthMethod } from './types.js';

const malformed = invalidClient.withReason('client_auth.malformed_header');

function formDecode(value: string): string {
  // RFC 6749 §2.3.1: id and secret are encoded with application/x-www-form-urlencoded before
  // being joined with ':' and base64-encoded, so '+' means a space and %XX a byte.
  if (value.indexOf('%') === -1 && value.indexOf('+') === -1) return value;
  return decodeURIComponent(value.replace(/\+/g, ' '));
}

/**
 * client_secret_basic: HTTP Basic (RFC 7617) carrying the form-encoded client id and secret.
 * @see RFC 6749 §2.3.1
 */
export const clientSecretBasic: ClientAuthMethod = {
  name: 'client_secret_basic',
  presentIn: (req) => header(req, 'authorization') !== undefined,
  extract(req) {
    const value = header(req, 'authorization') ?? '';
    const match = /^basic +([A-Za-z0-9+/=_-]+) *$/i.exec(value);
    if (match === null) throw malformed.withDescription('The Authorization header must be HTTP Basic with the client id and secret.');
    const decoded = Buffer.from(match[1] ?? '', 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon <= 0) throw malformed.withDescription('The Basic credentials must be client_id:client_secret.');
    let clientId: string;
    let clientSecret: string;
    try {
      clientId = formDecode(decoded.slice(0, colon));
      clientSecret = formDecode(decoded.slice(colon + 1));
    } catch {
      throw malformed.withDescription('The Basic credentials are not correctly form-encoded (RFC 6749 section 2.3.1).');
    }
    if (clientId === '') throw malformed.withDescription('The Basic credentials have an empty client id.');
    return { method: 'client_secret_basic', clientId, clientSecret };
  },
};
