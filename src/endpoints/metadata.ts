import { DEVICE_CODE_GRANT } from '../grants/grant-type.js';
import { DEVICE_AUTHORIZATION_PATH } from './device-authorization.js';
import { DPOP_ALGS } from '../tokens/dpop.js';
import { ALLOWED_ALGORITHMS } from '../assertions/keys.js';
import type { NeutralResponse } from '../core/request.js';
import { CLAIMS_SUPPORTED } from '../oidc/claims.js';
import { PROMPT_VALUES, RESPONSE_MODES } from './authorize/oidc-params.js';
import type { RegistryCache } from '../registry/cache.js';
import type { Storage } from '../storage/types.js';

/** The well-known path of RFC 8414 §3. */
export const METADATA_PATH = '/.well-known/oauth-authorization-server';
export const METADATA_MAX_AGE_SECONDS = 300;
/** The well-known path of OpenID Connect Discovery 1.0 §4 (appended to the issuer, path and all). */
export const OPENID_CONFIGURATION_PATH = '/.well-known/openid-configuration';

/** The claims an ID token carries (tokens/id-token.ts). */
export const ID_TOKEN_CLAIMS: readonly string[] = ['iss', 'sub', 'aud', 'exp', 'iat', 'auth_time', 'nonce', 'sid', 'amr', 'at_hash'];
/** ID token signature algorithms (keys/keyring.ts ID_TOKEN_ALGORITHMS; RS256 first, Core 1.0 §15.1). */
const ID_TOKEN_SIGNING_ALGS: readonly string[] = ['RS256', 'ES256'];

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
  readonly cache: Pick<RegistryCache, 'onInvalidate'> & Partial<Pick<RegistryCache, 'properties' | 'peekProperties'>>;
}

export interface MetadataEndpoint {
  /** `path`: the request path (without query); undefined from handle means "not this issuer's metadata" (404). */
  handle(path: string): Promise<NeutralResponse | undefined>;
  /** The metadata document (RFC 8414 §2) as an object. */
  document(): Promise<Record<string, unknown>>;
  /** The OpenID Provider configuration (Discovery 1.0 §3): the RFC 8414 document plus the OpenID fields. */
  openidConfiguration(): Promise<Record<string, unknown>>;
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

  /** latchkey.cimd.enabled, as the registry cache has it (a change shows within a poll). */
  async function cimdEnabled(): Promise<boolean> {
    const props = deps.cache.peekProperties?.() ?? (await deps.cache.properties?.());
    return props?.['latchkey.cimd.enabled'] ?? false;
  }

  /** latchkey.registration.mode, as the registry cache has it: registration_endpoint is named unless it is off. */
  async function registrationOn(): Promise<boolean> {
    const props = deps.cache.peekProperties?.() ?? (await deps.cache.properties?.());
    return props !== undefined && props['latchkey.registration.mode'] !== 'off';
  }

  /** latchkey.par.required, as the registry cache has it (RFC 9126 §5 require_pushed_authorization_requests). */
  async function parRequired(): Promise<boolean> {
    const props = deps.cache.peekProperties?.() ?? (await deps.cache.properties?.());
    return props?.['latchkey.par.required'] ?? false;
  }

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
      // RFC 7591 §3 (RFC 8414 §2 registration_endpoint): dynamic client registration, unless latchkey.registration.mode is off.
      ...((await registrationOn()) ? { registration_endpoint: `${issuer}/oauth/register` } : {}),
      scopes_supported: await scopeNames(),
      response_types_supported: ['code'],
      // query, and OAuth 2.0 Form Post Response Mode (endpoints/authorize/oidc-params.ts); no fragment: no implicit flow.
      response_modes_supported: [...RESPONSE_MODES],
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
      // RFC 9126 §5: the pushed authorization request endpoint, and whether every client must use it.
      pushed_authorization_request_endpoint: `${issuer}/oauth/par`,
      require_pushed_authorization_requests: await parRequired(),
      // RFC 9449 §5.1: DPoP proofs at the token endpoint (and the hosted APIs), these algorithms.
      dpop_signing_alg_values_supported: [...DPOP_ALGS],
      // draft-ietf-oauth-client-id-metadata-document §5: an https client_id URL names the client's metadata document.
      ...((await cimdEnabled()) ? { client_id_metadata_document_supported: true } : {}),
      // RFC 8628 §4: the device authorization endpoint, when the device grant is in the catalogue.
      ...(deps.grants.has(DEVICE_CODE_GRANT) ? { device_authorization_endpoint: `${issuer}${DEVICE_AUTHORIZATION_PATH}` } : {}),
    };
  }

  /**
   * OpenID Connect Discovery 1.0 §3, listing exactly what is supported: the authorization code
   * flow (response type code, query response mode), public subject identifiers, RS256 and ES256
   * ID tokens, UserInfo (§5.3) with the claims of §5.4, the claims parameter (§5.5), the query and
   * form_post response modes and the prompt values of §3.1.2.1; no request or request_uri parameters;
   * the end-session endpoint and back-channel logout.
   */
  async function openidConfiguration(): Promise<Record<string, unknown>> {
    const base = await document();
    return {
      ...base,
      subject_types_supported: ['public'],
      id_token_signing_alg_values_supported: [...ID_TOKEN_SIGNING_ALGS],
      userinfo_endpoint: `${base.issuer as string}/oauth/userinfo`,
      // What the ID token carries and what UserInfo can return (src/oidc/claims.ts).
      claims_supported: [...new Set([...ID_TOKEN_CLAIMS, ...CLAIMS_SUPPORTED])],
      // Core 1.0 §5.5: its userinfo and id_token members are honoured (src/oidc/claims.ts).
      claims_parameter_supported: true,
      // Not in Discovery 1.0, but common (OpenID Connect Prompt Create 1.0 §4.1): the prompt values understood.
      prompt_values_supported: [...PROMPT_VALUES],
      request_parameter_supported: false,
      request_uri_parameter_supported: false,
      // RP-Initiated Logout 1.0 §2.1 and Back-Channel Logout 1.0 §2.1 (logout tokens carry sid and sub).
      end_session_endpoint: `${base.issuer as string}/oauth/logout`,
      backchannel_logout_supported: true,
      backchannel_logout_session_supported: true,
    };
  }

  return {
    document,
    openidConfiguration,
    async handle(path) {
      const issuerPath = new URL(deps.issuer()).pathname.replace(/\/+$/, '');
      // Discovery 1.0 §4: <issuer>/.well-known/openid-configuration; the plain path too (a proxy
      // that maps the issuer's path onto this instance strips it).
      if (path === OPENID_CONFIGURATION_PATH || (issuerPath !== '' && path === `${issuerPath}${OPENID_CONFIGURATION_PATH}`)) {
        return { status: 200, headers: HEADERS, body: JSON.stringify(await openidConfiguration()) };
      }
      if (path !== METADATA_PATH) {
        if (issuerPath === '' || path !== `${METADATA_PATH}${issuerPath}`) return undefined;
      }
      return { status: 200, headers: HEADERS, body: JSON.stringify(await document()) };
    },
  };
}
