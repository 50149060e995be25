import { parse } from 'node:querystring';
import { OAuthError } from '../errors/oauth-error.js';
import { invalidRequest } from '../errors/errors.js';

/**
 * Parses an application/x-www-form-urlencoded body with Node's querystring (one pass, repeated
 * names come back as arrays; measured cheaper than iterating URLSearchParams on the hot path),
 * refusing repeated parameters (RFC 6749 §3.1, §3.2: "Request and response parameters
 * MUST NOT be included more than once"). Parameters sent without a value are treated as omitted
 * (RFC 6749 §3.1).
 */
export function parseForm(body: string | undefined, repeatable?: { readonly name: string; readonly values: string[] }): Record<string, string> {
  const params: Record<string, string> = Object.create(null) as Record<string, string>;
  if (body === undefined || body === '') return params;
  // maxKeys 0: no silent truncation; the body size limit bounds the work.
  const parsed = body.indexOf('%') === -1 && body.indexOf('+') === -1 ? splitPlain(body) : parse(body, '&', '=', { maxKeys: 0 });
  for (const name in parsed) {
    const value = parsed[name];
    // The one parameter a caller says may repeat (RFC 8707 resource): its values, in order, empty ones left out.
    if (repeatable !== undefined && name === repeatable.name) {
      for (const v of Array.isArray(value) ? value : [value]) if (v !== undefined && v !== '') repeatable.values.push(v);
      continue;
    }
    if (Array.isArray(value)) throw repeated(name);
    if (value !== undefined && value !== '') params[name] = value;
  }
  return params;
}

/**
 * What querystring.parse returns for a body with nothing to decode (no `%`, no `+`: the token
 * endpoint's usual `grant_type=client_credentials`), from indexOf and slice instead of its
 * character loop: empty pairs skipped, a pair without `=` an empty value, a repeated name an array.
 */
function splitPlain(body: string): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = Object.create(null) as Record<string, string | string[]>;
  let start = 0;
  while (start < body.length) {
    let end = body.indexOf('&', start);
    if (end === -1) end = body.length;
    if (end > start) {
      const eq = body.indexOf('=', start);
      const split = eq !== -1 && eq < end;
      const name = body.slice(start, split ? eq : end);
      const value = split ? body.slice(eq + 1, end) : '';
      const seen = out[name];
      if (seen === undefined) out[name] = value;
      else if (Array.isArray(seen)) seen.push(value);
      else out[name] = [seen, value];
    }
    start = end + 1;
  }
  return out;
}

/**
 * A parameter name as a fact: a name shaped like one (not like one of our tokens, `lk_…`), else a
 * placeholder, so that a value sent without `=` (the body `lk_rt_…`) is never recorded.
 */
export function parameterName(name: string): string {
  return /^[A-Za-z0-9_.-]{1,64}$/.test(name) && !name.startsWith('lk_') ? name : '(not shown: not shaped like a parameter name)';
}

function repeated(name: string): OAuthError {
  const safe = /^[A-Za-z0-9_.-]{1,64}$/.test(name) ? name : 'a parameter';
  return invalidRequest.withReason('request.repeated_parameter').withDescription(`The parameter ${safe} was sent more than once.`).withFacts({ repeatedParameter: parameterName(name) });
}
