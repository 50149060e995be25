/**
 * RFC 8707 resource indicators at the token and authorization endpoints: the `resource`
 * parameters validated (canonical form, known, allowed for the application), the scopes fitted to
 * what the resources accept, and the binding of a token request to what its grant authorized (an
 * authorization code's resources, a refresh token's grant): the token request may name those
 * resources or fewer. The token's audience is the resources (tokens/issuer.ts, tokens/jwt.ts).
 */
import { nearest } from '../core/nearest.js';
import type { Application } from '../domain/model.js';
import { canonicalResource } from '../domain/resource-uri.js';
import { invalidScope, invalidTarget } from '../errors/errors.js';
import { factString } from '../errors/fact-values.js';
import { resourceAllowed, scopesNotAccepted, SERVER_SCOPES, type KnownResource, type ResourceCatalogue } from '../registry/resources.js';
import { scopesFact } from './scope.js';

/** At most this many resource parameters in one request (far beyond any client's). */
export const MAX_RESOURCES = 20;

export type ResourceLookup = Pick<ResourceCatalogue, 'peek' | 'load'>;

/**
 * The resources a request names, checked: each an absolute http(s) URI without fragment (in its
 * canonical form), known to this instance, and allowed for the application. Throws invalid_target
 * (resource.invalid, resource.unknown, resource.not_allowed). No catalogue: none are known.
 */
export async function checkResources(catalogue: ResourceLookup | undefined, app: Application, raw: readonly string[]): Promise<KnownResource[]> {
  if (raw.length === 0) return [];
  if (raw.length > MAX_RESOURCES) {
    throw invalidTarget.withReason('resource.invalid').withDescription(`At most ${MAX_RESOURCES} resource parameters may be sent.`).withFacts({ requestedResource: null, resourceProblem: 'too_many' });
  }
  const canonical: string[] = [];
  for (const value of raw) {
    const parsed = canonicalResource(value);
    if (!parsed.ok) {
      throw invalidTarget.withReason('resource.invalid').withDescription(`${parsed.message} Send resource as an absolute URI without a fragment.`).withFacts({ requestedResource: factString(value, 300), resourceProblem: parsed.problem });
    }
    if (!canonical.includes(parsed.uri)) canonical.push(parsed.uri);
  }
  const view = catalogue === undefined ? undefined : (catalogue.peek() ?? (await catalogue.load()));
  const found: KnownResource[] = [];
  for (const uri of canonical) {
    const known = view?.find(uri);
    if (known === undefined) {
      const near = view === undefined ? undefined : nearest(uri, view.uris());
      throw invalidTarget
        .withReason('resource.unknown')
        .withDescription(`The resource ${uri.slice(0, 300)} is not known to this server. An administrator can register it with \`latchkey resources add ${uri.slice(0, 300)}\`.`)
        .withFacts({ requestedResource: uri.slice(0, 300), nearestResource: near ?? null });
    }
    if (!resourceAllowed(app, uri)) {
      throw invalidTarget
        .withReason('resource.not_allowed')
        .withDescription(`The application ${app.name} may not request tokens for the resource ${uri.slice(0, 300)}. An administrator can allow it with \`latchkey apps update ${app.clientId} --resources ${[...(app.resources ?? []), uri].join(',').slice(0, 500)}\`.`)
        .withFacts({ requestedResource: uri.slice(0, 300), allowedResources: (app.resources ?? []).map((r) => r.slice(0, 300)) });
    }
    found.push(known);
  }
  return found;
}

/**
 * The scopes a token for `resources` gets. Requested explicitly (`explicit`): each must be accepted
 * by at least one of the resources (OpenID Connect scopes are the server's own and always pass),
 * else invalid_scope (resource.scope_not_accepted). Not requested (the application's defaults, the
 * scopes of a code or of a refresh token's grant): narrowed to what the resources accept.
 */
export function fitScopes(resources: readonly KnownResource[] | undefined, scopes: string[], explicit: boolean): string[] {
  if (resources === undefined || resources.length === 0) return scopes;
  const accepted = (s: string): boolean => SERVER_SCOPES.includes(s) || resources.some((r) => scopesNotAccepted(r, [s]).length === 0);
  if (!explicit) return scopes.filter(accepted);
  const refused = scopes.filter((s) => !accepted(s));
  if (refused.length === 0) return scopes;
  const first = resources[0] as KnownResource;
  const acceptedScopes = [...new Set(resources.flatMap((r) => r.scopes))];
  throw invalidScope
    .withReason('resource.scope_not_accepted')
    .withDescription(
      `The scope ${refused.join(', ').slice(0, 300)} is not accepted by the resource ${resources.map((r) => r.uri).join(', ').slice(0, 300)}, which accepts ${acceptedScopes.join(' ').slice(0, 300) || '(any)'}.` +
        (first.kind === 'external' ? ` An administrator can change that with \`latchkey resources update ${first.uri.slice(0, 300)} --scopes ${[...acceptedScopes, ...refused].join(',').slice(0, 300)}\`.` : ''),
    )
    .withFacts({ requestedResource: first.uri.slice(0, 300), acceptedScopes: scopesFact(acceptedScopes), scopesNotAccepted: scopesFact(refused), requestedScopes: scopesFact(scopes) });
}

/** The audience of a token for `resources`: their identifiers, or undefined for none. */
export function audienceOf(resources: readonly KnownResource[] | undefined): string[] | undefined {
  return resources === undefined || resources.length === 0 ? undefined : resources.map((r) => r.uri);
}

/**
 * RFC 8707 §2.2: a token request bound to what its grant authorized (`granted`: the code's
 * resources, the refresh token's). It may name those resources or fewer; naming none gets all of
 * them. Throws invalid_target resource.not_granted for a resource beyond them, resource.unknown
 * for a granted one no longer known.
 */
export async function bindResources(catalogue: ResourceLookup | undefined, requested: readonly KnownResource[] | undefined, granted: readonly string[] | null | undefined, facts: Readonly<Record<string, string>> = {}): Promise<KnownResource[]> {
  const allowed = granted ?? [];
  const asked = requested ?? [];
  const beyond = asked.filter((r) => !allowed.includes(r.uri));
  if (beyond.length > 0) {
    const uri = (beyond[0] as KnownResource).uri;
    throw invalidTarget
      .withReason('resource.not_granted')
      .withDescription(
        allowed.length === 0
          ? `The grant was authorized without a resource, so the token request may not name ${uri.slice(0, 300)}. Start a new authorization request with resource=${uri.slice(0, 300)}.`
          : `The grant was authorized for ${allowed.join(', ').slice(0, 300)}, not for ${uri.slice(0, 300)}. Name those resources (or fewer), or start a new authorization request with this one.`,
      )
      .withFacts({ requestedResource: uri.slice(0, 300), grantedResources: allowed.map((r) => r.slice(0, 300)), ...facts });
  }
  if (asked.length > 0) return [...asked];
  if (allowed.length === 0) return [];
  const view = catalogue === undefined ? undefined : (catalogue.peek() ?? (await catalogue.load()));
  return allowed.map((uri) => {
    const known = view?.find(uri);
    if (known === undefined) {
      throw invalidTarget
        .withReason('resource.unknown')
        .withDescription(`The resource ${uri.slice(0, 300)} this grant was authorized for is no longer known to this server.`)
        .withFacts({ requestedResource: uri.slice(0, 300), nearestResource: null });
    }
    return known;
  });
}
