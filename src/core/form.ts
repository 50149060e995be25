import { OAuthError } from '../errors/oauth-error.js';
import { invalidRequest } from '../errors/errors.js';

/**
 * Parses an application/x-www-form-urlencoded body with the platform's URLSearchParams
 * (WHATWG), refusing repeated parameters (RFC 6749 §3.1, §3.2: "Request and response parameters
 * MUST NOT be included more than once"). Parameters sent without a value are treated as omitted
 * (RFC 6749 §3.1).
 */
export function parseForm(body: string | undefined): Record<string, string> {
  const params: Record<string, string> = Object.create(null) as Record<string, string>;
  if (body === undefined || body === '') return params;
  const seen = new Set<string>();
  for (const [name, value] of new URLSearchParams(body)) {
    if (seen.has(name)) throw repeated(name);
    seen.add(name);
    if (value !== '') params[name] = value;
  }
  return params;
}

function repeated(name: string): OAuthError {
  const safe = /^[A-Za-z0-9_.-]{1,64}$/.test(name) ? name : 'a parameter';
  return invalidRequest.withReason('request.repeated_parameter').withDescription(`The parameter ${safe} was sent more than once.`);
}
