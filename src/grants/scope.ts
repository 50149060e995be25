import { invalidRequest, invalidScope } from '../errors/errors.js';
import { OAuthError } from '../errors/oauth-error.js';
import { SCOPE_TOKEN } from '../registry/scopes.js';
import type { Application } from '../domain/model.js';
import type { Storage } from '../storage/types.js';

/** At most this many scope names go into a refusal's facts (a caller may send thousands). */
const FACT_SCOPES = 50;
const SCOPE_CHAR = /[\x21\x23-\x5b\x5d-\x7e]/;

/** Why `raw` is not scope tokens separated by single spaces, for the administrator (never a value beyond one character's code). */
function scopeProblem(raw: string): string {
  if (raw.startsWith(' ') || raw.endsWith(' ')) return 'a leading or trailing space';
  const double = raw.indexOf('  ');
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i] as string;
    if (double !== -1 && i === double) return `two spaces in a row at character ${i + 1}`;
    if (c !== ' ' && !SCOPE_CHAR.test(c)) {
      return `character U+${(c.codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, '0')} at character ${i + 1}: scope names are printable ASCII without space, '"' or '\\'`;
    }
  }
  return 'not scope names separated by single spaces';
}

/**
 * Parses the scope parameter: space-delimited, case-sensitive scope tokens.
 * @see RFC 6749 §3.3
 */
export function parseScopeParam(raw: string | undefined): string[] | undefined {
  if (raw === undefined) return undefined;
  const parts = raw.split(' ');
  for (const p of parts) {
    if (!SCOPE_TOKEN.test(p)) {
      throw invalidRequest
        .withReason('scope.malformed')
        .withDescription('The scope parameter must be scope names separated by single spaces.')
        .withFacts({ scopeProblem: scopeProblem(raw) });
    }
  }
  return [...new Set(parts)];
}

/** The asked scopes as a fact: the first FACT_SCOPES names, each at most 100 characters. */
export function scopesFact(scopes: readonly string[]): string[] {
  return scopes.slice(0, FACT_SCOPES).map((s) => s.slice(0, 100));
}

/**
 * The scopes a new grant gets: the request's, each of which the application must allow, or the
 * application's scopes when none are requested (its default).
 */
export function resolveRequestedScopes(app: Application, requested: readonly string[] | undefined): string[] {
  if (requested === undefined) return [...app.scopes];
  const refused = requested.filter((s) => !app.scopes.includes(s));
  if (refused.length > 0) {
    throw invalidScope
      .withReason('scope.not_allowed')
      .withDescription(`The application ${app.name} is not allowed the scope ${refused.join(', ')}. Allowed: ${app.scopes.join(' ') || '(none)'}.`)
      .withFacts({ requestedScopes: scopesFact(requested) });
  }
  return [...requested];
}

/**
 * The refusal to throw for what resolveRequestedScopes (or another scope check) threw: a
 * scope.not_allowed naming a scope that is no auth scope of this instance at all becomes
 * scope.unknown (it must be created before any application can be allowed it); anything else is
 * returned as it is. The scopes are read only here, on the refusal path; what the caller is told
 * (invalid_scope and its description) stays the same. Use as
 * `try { … } catch (error) { throw await scopeRefusal(storage, error); }`.
 */
export async function scopeRefusal(storage: Pick<Storage, 'scopes'>, error: unknown): Promise<unknown> {
  if (!(error instanceof OAuthError) || error.reason !== 'scope.not_allowed') return error;
  const asked = error.facts?.requestedScopes;
  if (!Array.isArray(asked)) return error;
  const known = new Set((await storage.scopes.list()).map((s) => s.name));
  return asked.some((s) => !known.has(s)) ? error.withReason('scope.unknown') : error;
}

/** The scopes a new grant gets (resolveRequestedScopes), a refusal told apart by scopeRefusal. */
export async function grantedScopes(storage: Pick<Storage, 'scopes'>, app: Application, raw: string | undefined): Promise<string[]> {
  try {
    return resolveRequestedScopes(app, parseScopeParam(raw));
  } catch (error) {
    throw await scopeRefusal(storage, error);
  }
}

/** Scopes in effect now: those granted, intersected with what the application allows today. */
export function effectiveScopes(granted: readonly string[], app: Application): string[] {
  return granted.filter((s) => app.scopes.includes(s));
}
