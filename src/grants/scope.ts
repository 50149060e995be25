import { invalidRequest, invalidScope } from '../errors/errors.js';
import { SCOPE_TOKEN } from '../registry/scopes.js';
import type { Application } from '../domain/model.js';

/**
 * Parses the scope parameter: space-delimited, case-sensitive scope tokens.
 * @see RFC 6749 §3.3
 */
export function parseScopeParam(raw: string | undefined): string[] | undefined {
  if (raw === undefined) return undefined;
  const parts = raw.split(' ');
  for (const p of parts) {
    if (!SCOPE_TOKEN.test(p)) {
      throw invalidRequest.withReason('scope.malformed').withDescription('The scope parameter must be scope names separated by single spaces.');
    }
  }
  return [...new Set(parts)];
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
      .withDescription(`The application ${app.name} is not allowed the scope ${refused.join(', ')}. Allowed: ${app.scopes.join(' ') || '(none)'}.`);
  }
  return [...requested];
}

/** Scopes in effect now: those granted, intersected with what the application allows today. */
export function effectiveScopes(granted: readonly string[], app: Application): string[] {
  return granted.filter((s) => app.scopes.includes(s));
}
