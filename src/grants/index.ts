import type { Word } from '../core/shell.js';
import type { Application } from '../domain/model.js';
import type { GrantType } from '../grants/grant-type.js';
import { authorizationCode } from './authorization-code.js';
import { clientCredentials } from './client-credentials.js';
import { jwtBearer } from './jwt-bearer.js';
import { deviceCode } from './device-code.js';
import { password } from './password.js';
import { refreshToken } from './refresh-token.js';
import { tokenExchange } from './token-exchange.js';
import type { Grant, GrantCheckInput, GrantDeps, GrantDescriptor, GrantModule, GrantWarning } from './types.js';

/** The built-in grant modules, in the order people meet them: the default catalogue of createLatchkey({ grants }). */
export const BUILT_IN_GRANTS: readonly GrantModule[] = [clientCredentials, password, refreshToken, authorizationCode, jwtBearer, deviceCode, tokenExchange];

/**
 * Checks a catalogue: every grant type once, every alias once and never another grant's type.
 * Throws an Error naming the duplicate (a host's mistake, found at start).
 */
export function checkCatalogue<T extends GrantDescriptor>(catalogue: readonly T[]): readonly T[] {
  const seen = new Set<string>();
  for (const g of catalogue) {
    for (const name of [g.grantType, ...(g.alias === undefined ? [] : [g.alias])]) {
      if (seen.has(name)) throw new Error(`The grant catalogue names the grant type ${JSON.stringify(name)} twice.`);
      seen.add(name);
    }
  }
  return catalogue;
}

/** The catalogue's handlers, keyed by grant_type, in catalogue order (metadata lists them so). */
export function createGrants(catalogue: readonly GrantModule[], deps: GrantDeps): Map<GrantType, Grant> {
  return new Map(checkCatalogue(catalogue).map((m) => [m.grantType, { ...m.createHandler(deps), descriptor: m, grantType: m.grantType }]));
}

/** The descriptor of a grant type or alias in the catalogue. */
export function findGrant<T extends GrantDescriptor>(catalogue: readonly T[], name: string): T | undefined {
  return catalogue.find((g) => g.grantType === name || g.alias === name);
}

/** The grant types an application of this kind (a grant type or alias with a preset) gets. */
export function kinds(catalogue: readonly GrantDescriptor[]): GrantDescriptor[] {
  return catalogue.filter((g) => g.preset !== undefined);
}

/**
 * A token request with the grant, as curl words after the client authentication: grant_type,
 * then `extra` (e.g. a scope), then the grant's parameters; undefined when it has no example.
 */
export function exampleRequest(g: GrantDescriptor, app: Application | undefined, options: { readonly user: string; readonly extra?: readonly Word[] }): Word[] | undefined {
  if (g.example === undefined) return undefined;
  return ['-d', `grant_type=${encodeURIComponent(g.grantType)}`, ...(options.extra ?? []), ...g.example.params(app, options)];
}

/** The checks of every grant of the catalogue the application allows, in catalogue order: CLI warnings and doctor findings. */
export function grantWarnings(catalogue: readonly GrantDescriptor[], input: GrantCheckInput): GrantWarning[] {
  return catalogue.filter((g) => input.application.grantTypes.includes(g.grantType)).flatMap((g) => g.checks?.(input) ?? []);
}
