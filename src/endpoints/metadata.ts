import { ALLOWED_ALGORITHMS } from '../assertions/keys.js';
import type { NeutralResponse } from '../core/request.js';
import type { RegistryCache } from '../registry/cache.js';
import type { Storage } from '../storage/types.js';

/** The well-known path of RFC 8414 §3. */
export const METADATA_PATH = '/.well-known/oauth-authorization-server';
export const METADATA_MAX_AGE_SECONDS = 300;

const HEADERS = {
  'content-type': 'application/json; charset=utf-8',
  'cache-control': `public, max-age=${METADATA_MAX_AGE_SECONDS}`,
} as const;

export interface MetadataDeps {
  readonly issuer: () => string;
  /** The registered grants and client authentication methods: metadata lists exactly these. */
  readonly grants: ReadonlyMap<string, unknown>;
  readonly clientAuthMethods: ReadonlyMap<string, unknown>;
  readonly storage: Pick<Storage, 'scopes'>;
  readonly cache: Pick<RegistryCache, 'onInvalidate'>;
}

export interface MetadataEndpoint {
  /** `path`: the request path (without query); undefined from handle means "not this issuer's metadata" (404). */
  handle(path: string): Promise<NeutralResponse | undefined>;
  /** The metadata document (RFC 8414 §2) as an object. */
  document(): Promise<Record<string, unknown>>;
}

/**
 * GET /.well-known/oauth-authorization-server (RFC 8414). For an issuer with a path
 * (https://example.com/tenant), RFC 8414 §3.1 puts the document at
 * /.well-known/oauth-authorization-server/tenant; it is served there too, and at the plain path
 * (a proxy that maps the issuer's path onto this instance strips it). Every URL is built from
 * the configured issuer, never from the request's Host header.
 */
export function createMetadataEndpoint(deps: MetadataDeps): MetadataEndpoint {
  let scopes: Promise<string[]> | undefined;
  deps.cache.onInvalidate(() => {
    scopes = undefined;
  });
  const scopeNames = () => {
    const pending = (scopes ??= deps.storage.scopes.list().then((list) => list.map((s) => s.name).sort()));
    pending.catch(() => {
      if (scopes === pending) scopes = undefined;
    });
    return pending;
  };

  async function document(): Promise<Record<string, unknown>> {
    const issuer = deps.issuer();
    const authMethods = [...deps.clientAuthMethods.keys()];
    const authenticated = authMethods.filter((m) => m !== 'none');
    const signed = authMethods.some((m) => m.endsWith('_jwt'));
    return {
      issuer,
      authorization_endpoint: `${issuer}/oauth/authorize`,
      token_endpoint: `${issuer}/oauth/token`,
      introspection_endpoint: `${issuer}/oauth/introspect`,
      revocation_endpoint: `${issuer}/oauth/revoke`,
      jwks_uri: `${issuer}/oauth/jwks`,
      scopes_supported: await scopeNames(),
      response_types_supported: ['code'],
      response_modes_supported: ['query'],
      grant_types_supported: [...deps.grants.keys()],
      token_endpoint_auth_methods_supported: authMethods,
      ...(signed ? { token_endpoint_auth_signing_alg_values_supported: [...ALLOWED_ALGORITHMS] } : {}),
      // RFC 7662 §2.1: the caller of introspection authenticates; a public client cannot.
      introspection_endpoint_auth_methods_supported: authenticated,
      ...(signed ? { introspection_endpoint_auth_signing_alg_values_supported: [...ALLOWED_ALGORITHMS] } : {}),
      // RFC 7009 §2.1: public clients revoke their tokens with their client_id.
      revocation_endpoint_auth_methods_supported: authMethods,
      ...(signed ? { revocation_endpoint_auth_signing_alg_values_supported: [...ALLOWED_ALGORITHMS] } : {}),
      code_challenge_methods_supported: ['S256'],
      authorization_response_iss_parameter_supported: true,
    };
  }

  return {
    document,
    async handle(path) {
      if (path !== METADATA_PATH) {
        const issuerPath = new URL(deps.issuer()).pathname.replace(/\/+$/, '');
        if (issuerPath === '' || path !== `${METADATA_PATH}${issuerPath}`) return undefined;
      }
      return { status: 200, headers: HEADERS, body: JSON.stringify(await document()) };
    },
  };
}
