import { createHash } from 'node:crypto';
import type { RegistrationPolicy, TokenFormat } from '../domain/model.js';
import { invalidClientMetadata, invalidRedirectUri } from '../errors/errors.js';
import { factString } from '../errors/fact-values.js';
import type { OAuthError } from '../errors/oauth-error.js';
import type { ReasonCode } from '../errors/reasons.js';
import type { Storage } from '../storage/types.js';
import { checkJwks, checkJwksUri, checkWebUrl, ID_TOKEN_SIGNING_ALGORITHMS, type ApplicationInput } from './applications.js';
import { RegistryError } from './errors.js';
import { policyOf } from './outbound-policy.js';
import { hostMatches, type PropertyValues } from './properties.js';
import { judgeRedirectUri, MAX_REDIRECT_URI } from './redirect-uris.js';
import { APPLICATION_TYPES, REGISTRABLE_GRANTS, REGISTRATION_AUTH_METHODS, TOKEN_FORMATS } from './registration.js';
import { ADMIN_SCOPE, ALL_ACCESS_SCOPE, SCOPE_TOKEN } from './scopes.js';

/**
 * The checks of a client's metadata at dynamic registration (RFC 7591 §2) and at an update
 * (RFC 7592 §2.2), against the instance and the registration policy. What comes out is the
 * metadata as registered (RFC 7591 names, defaults filled in, unknown members left out: §2 "the
 * authorization server MUST ignore any client metadata sent by the client that it does not
 * understand"), the application it makes, and its fingerprint for de-duplication.
 */

const MAX_REDIRECT_URIS = 20;
const MAX_CONTACTS = 10;
const LOOPBACK_HOSTS: ReadonlySet<string> = new Set(['localhost', '127.0.0.1', '[::1]']);
/** Members RFC 7592 §2.2 lets a client echo in an update; they are not metadata it can set. */
const ECHOED = new Set(['client_id', 'client_secret', 'registration_access_token', 'registration_client_uri', 'client_id_issued_at', 'client_secret_expires_at']);

/** The client metadata as registered: what the registration answers and RFC 7592 reads back. */
export interface RegisteredMetadata {
  readonly redirect_uris: readonly string[];
  readonly grant_types: readonly string[];
  readonly response_types: readonly string[];
  readonly token_endpoint_auth_method: string;
  readonly application_type: string;
  readonly client_name?: string;
  readonly scope: string;
  readonly logo_uri?: string;
  readonly client_uri?: string;
  readonly policy_uri?: string;
  readonly tos_uri?: string;
  readonly contacts?: readonly string[];
  readonly jwks?: unknown;
  readonly jwks_uri?: string;
  readonly software_id?: string;
  readonly software_version?: string;
  readonly id_token_signed_response_alg?: string;
  /** RFC 9449 §5.2: the client always uses DPoP (token requests without a proof are refused); absent: false. */
  readonly dpop_bound_access_tokens?: boolean;
  /** A Latchkey extension: the format of the client's access tokens (opaque, the default, or jwt). */
  readonly access_token_format: TokenFormat;
  /** RFC 9126 §6: authorization requests only through the pushed authorization request endpoint (present when true). */
  readonly require_pushed_authorization_requests?: true;
}

export interface CheckedRegistration {
  readonly metadata: RegisteredMetadata;
  /** The application it becomes (createApplication / updateApplication input). */
  readonly input: ApplicationInput;
  /** SHA-256 of the canonical metadata (sorted keys): the same client registering again has the same. */
  readonly fingerprint: string;
}

export interface CheckDeps {
  readonly storage: Pick<Storage, 'scopes'>;
}

const refusal = (template: typeof invalidClientMetadata, reason: ReasonCode, field: string, problem: string): OAuthError =>
  template
    .withReason(reason)
    .withDescription(`${field}: ${problem}`)
    .withFacts({ metadataField: field, registrationProblem: factString(`${field}: ${problem}`, 300) });

const metadataError = (reason: ReasonCode, field: string, problem: string) => refusal(invalidClientMetadata, reason, field, problem);
const redirectError = (reason: ReasonCode, problem: string) => refusal(invalidRedirectUri, reason, 'redirect_uris', problem);
const fieldError = (field: string, problem: string) => metadataError('registration.field_invalid', field, problem);

/** A policy refusal: the field and what the policy allows. */
function policyRefusal(policy: RegistrationPolicy, field: string, problem: string): OAuthError {
  return invalidClientMetadata
    .withReason('registration.policy_refused')
    .withDescription(`${field}: ${problem}, which the registration policy does not allow.`)
    .withFacts({ registrationPolicy: policy.name, metadataField: field, registrationProblem: factString(`${field}: ${problem}`, 300) });
}

function stringList(d: Record<string, unknown>, field: string, fallback: readonly string[], reason: ReasonCode): string[] {
  const v = d[field];
  if (v === undefined) return [...fallback];
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) throw metadataError(reason, field, 'must be an array of strings');
  return [...new Set(v as string[])];
}

function optionalText(d: Record<string, unknown>, field: string, max: number): string | undefined {
  const v = d[field];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string' || v.trim() === '' || v.length > max || /[\x00-\x1f\x7f]/.test(v)) throw fieldError(field, `must be a string of 1-${max} printable characters`);
  return v.trim();
}

function optionalWebUrl(d: Record<string, unknown>, field: string): string | undefined {
  const v = d[field];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw fieldError(field, 'must be a string');
  try {
    return checkWebUrl(`The ${field}`, field, v);
  } catch (error) {
    if (error instanceof RegistryError) throw fieldError(field, factString(error.message, 200) ?? 'refused');
    throw error;
  }
}

/** Web clients: https, not localhost. Native: loopback http, a private-use scheme, or https (RFC 8252 §7). */
function checkRedirectForType(uri: string, applicationType: string): void {
  const url = new URL(uri);
  const scheme = url.protocol.slice(0, -1);
  const loopback = LOOPBACK_HOSTS.has(url.hostname);
  if (applicationType === 'web') {
    if (scheme !== 'https' || loopback) {
      throw invalidRedirectUri
        .withReason('registration.redirect_uri_application_type')
        .withDescription(`redirect_uris: ${factString(uri, 200)} does not suit a web client, whose redirect URIs must use https and not localhost; register application_type native for a client on this machine.`)
        .withFacts({ applicationType, registrationProblem: factString(`${uri} is not https off localhost`, 300) });
    }
    return;
  }
  if (scheme === 'http' && !loopback) {
    throw invalidRedirectUri
      .withReason('registration.redirect_uri_application_type')
      .withDescription(`redirect_uris: ${factString(uri, 200)} does not suit a native client: http only on a loopback address (127.0.0.1, [::1] or localhost), else a private-use scheme or https.`)
      .withFacts({ applicationType, registrationProblem: factString(`${uri} is http off loopback`, 300) });
  }
}

function inferredApplicationType(uris: unknown): string {
  if (!Array.isArray(uris) || uris.length === 0) return 'web';
  const native = uris.every((u) => {
    if (typeof u !== 'string' || !URL.canParse(u)) return false;
    const url = new URL(u);
    return (url.protocol === 'http:' && LOOPBACK_HOSTS.has(url.hostname)) || (url.protocol !== 'https:' && url.protocol !== 'http:');
  });
  return native ? 'native' : 'web';
}

/** The canonical JSON of a value (object keys sorted), for the fingerprint. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

export function metadataFingerprint(metadata: RegisteredMetadata): string {
  return createHash('sha256').update(canonical(metadata)).digest('base64url');
}

/**
 * Checks client metadata (a parsed JSON object) for registration under `policy` (undefined: none)
 * with the instance's properties; throws the RFC 7591 §3.2.2 refusal (invalid_redirect_uri,
 * invalid_client_metadata) with its reason code.
 */
export async function checkClientMetadata(deps: CheckDeps, d: Record<string, unknown>, policy: RegistrationPolicy | undefined, props: PropertyValues): Promise<CheckedRegistration> {
  const spec = policy?.spec ?? {};
  const allowed = (field: keyof typeof spec, value: string, what: string): void => {
    const list = spec[field] as readonly string[] | undefined;
    if (policy !== undefined && list !== undefined && !list.includes(value)) throw policyRefusal(policy, metadataNameOf(field), what);
  };
  // ---- application_type (OpenID Connect Registration §2). Absent: native when every redirect URI
  // is loopback http or a private-use scheme (what MCP and CLI clients register, without the member
  // RFC 7591 does not define), else web. ----
  const applicationType = d.application_type ?? inferredApplicationType(d.redirect_uris);
  if (typeof applicationType !== 'string' || !APPLICATION_TYPES.includes(applicationType)) throw fieldError('application_type', 'must be web or native');
  allowed('applicationTypes', applicationType, `application_type ${applicationType}`);
  // ---- grant and response types (§2.1) ----
  const grantTypes = stringList(d, 'grant_types', ['authorization_code'], 'registration.grant_types_invalid');
  const responseTypes = stringList(d, 'response_types', grantTypes.includes('authorization_code') ? ['code'] : [], 'registration.grant_types_invalid');
  const unsupported = grantTypes.filter((g) => !REGISTRABLE_GRANTS.includes(g));
  if (unsupported.length > 0) {
    throw metadataError('registration.grant_types_invalid', 'grant_types', `${factString(unsupported.join(' '), 100)} cannot be registered; a registered client may have ${REGISTRABLE_GRANTS.join(' and ')}`);
  }
  if (grantTypes.length === 0) throw metadataError('registration.grant_types_invalid', 'grant_types', 'must hold authorization_code');
  if (!grantTypes.includes('authorization_code')) throw metadataError('registration.grant_types_invalid', 'grant_types', 'refresh_token needs authorization_code');
  const otherResponses = responseTypes.filter((r) => r !== 'code');
  if (otherResponses.length > 0) throw metadataError('registration.grant_types_invalid', 'response_types', `${factString(otherResponses.join(' '), 100)} is not supported (code only)`);
  if (!responseTypes.includes('code')) throw metadataError('registration.grant_types_invalid', 'response_types', 'authorization_code goes with the response type code (RFC 7591 section 2.1)');
  for (const g of grantTypes) allowed('grantTypes', g, `the grant type ${g}`);
  // ---- redirect URIs ----
  const redirectUris = stringList(d, 'redirect_uris', [], 'registration.redirect_uri_invalid');
  if (redirectUris.length === 0) {
    throw invalidRedirectUri
      .withReason('registration.redirect_uris_missing')
      .withDescription('redirect_uris: the authorization_code grant needs at least one redirect URI (RFC 7591 section 2).')
      .withFacts({ metadataField: 'redirect_uris' });
  }
  if (redirectUris.length > MAX_REDIRECT_URIS) throw redirectError('registration.redirect_uri_invalid', `at most ${MAX_REDIRECT_URIS} may be registered`);
  for (const uri of redirectUris) {
    if (uri.length > MAX_REDIRECT_URI || !URL.canParse(uri)) throw redirectError('registration.redirect_uri_invalid', `${factString(uri, 200)} is not an absolute URI`);
    if (uri.includes('#')) throw redirectError('registration.redirect_uri_invalid', `${factString(uri, 200)} contains a fragment`);
    const verdict = judgeRedirectUri(uri);
    if (!verdict.ok) throw redirectError('registration.redirect_uri_invalid', `${factString(uri, 200)} ${verdict.problem}`);
    checkRedirectForType(uri, applicationType);
    const hosts = spec.redirectHosts;
    if (policy !== undefined && hosts !== undefined) {
      const host = new URL(uri).hostname.replace(/^\[|\]$/g, '');
      if (!hostMatches(host, hosts)) {
        throw invalidRedirectUri
          .withReason('registration.policy_refused')
          .withDescription(`redirect_uris: the host ${factString(host, 100)} is not one the registration policy allows.`)
          .withFacts({ registrationPolicy: policy.name, metadataField: 'redirect_uris', registrationProblem: factString(`redirect host ${host} not in ${hosts.join(', ')}`, 300) });
      }
    }
  }
  // ---- authentication (§2: default client_secret_basic) and keys ----
  const method = d.token_endpoint_auth_method ?? 'client_secret_basic';
  if (typeof method !== 'string' || !REGISTRATION_AUTH_METHODS.includes(method)) {
    throw metadataError('registration.auth_method_unsupported', 'token_endpoint_auth_method', `${factString(String(method), 50)} is not supported (${REGISTRATION_AUTH_METHODS.join(', ')})`);
  }
  if (method === 'client_secret_post' && !props['latchkey.client_auth.client_secret_post.enabled']) {
    throw metadataError('registration.auth_method_unsupported', 'token_endpoint_auth_method', 'client_secret_post is switched off on this instance; use client_secret_basic');
  }
  allowed('authMethods', method, `token_endpoint_auth_method ${method}`);
  if (d.jwks !== undefined && d.jwks_uri !== undefined) throw metadataError('registration.keys_invalid', 'jwks', 'jwks and jwks_uri must not both be present (RFC 7591 section 2)');
  let jwks: string | undefined;
  let jwksUri: string | undefined;
  try {
    if (d.jwks !== undefined) {
      if (typeof d.jwks !== 'object' || d.jwks === null || Array.isArray(d.jwks)) throw metadataError('registration.keys_invalid', 'jwks', 'must be a JWK Set object');
      jwks = await checkJwks(JSON.stringify(d.jwks));
    }
    if (d.jwks_uri !== undefined) {
      if (typeof d.jwks_uri !== 'string') throw metadataError('registration.keys_invalid', 'jwks_uri', 'must be a string');
      jwksUri = checkJwksUri(d.jwks_uri, policyOf(props));
    }
  } catch (error) {
    if (error instanceof RegistryError) throw metadataError('registration.keys_invalid', d.jwks !== undefined ? 'jwks' : 'jwks_uri', factString(error.message, 300) ?? 'refused');
    throw error;
  }
  if (method === 'private_key_jwt' && jwks === undefined && jwksUri === undefined) throw metadataError('registration.keys_invalid', 'jwks', 'private_key_jwt needs jwks or jwks_uri');
  // ---- scope ----
  if (d.scope !== undefined && typeof d.scope !== 'string') throw metadataError('registration.scope_invalid', 'scope', 'must be a string of space-separated scopes');
  const asked = typeof d.scope === 'string' ? [...new Set(d.scope.split(' ').filter((s) => s !== ''))] : undefined;
  const known = (await deps.storage.scopes.list()).map((s) => s.name);
  let scopes: string[];
  if (asked === undefined) {
    // offline_access asks for a refresh token: only a client that may have one gets it by default
    // (otherwise the scope is granted and nothing comes of it; doctor's offline_access_without_refresh).
    const offline = grantTypes.includes('refresh_token');
    scopes = (spec.scopes !== undefined ? [...spec.scopes] : known.filter((s) => s !== ADMIN_SCOPE && s !== ALL_ACCESS_SCOPE)).filter((s) => offline || s !== 'offline_access');
  } else {
    for (const s of asked) {
      if (!SCOPE_TOKEN.test(s) || s.length > 200) throw metadataError('registration.scope_invalid', 'scope', `${factString(s, 100)} is not a scope token (RFC 6749 section 3.3)`);
      if (s === ADMIN_SCOPE || s === ALL_ACCESS_SCOPE) throw metadataError('registration.scope_invalid', 'scope', `${s} is reserved and cannot be registered`);
      if (!known.includes(s)) throw metadataError('registration.scope_invalid', 'scope', `${factString(s, 100)} is not a scope of this instance`);
      allowed('scopes', s, `the scope ${s}`);
    }
    scopes = asked;
  }
  // ---- token format (Latchkey extension) ----
  const format = d.access_token_format ?? spec.tokenFormats?.[0] ?? 'opaque';
  if (typeof format !== 'string' || !(TOKEN_FORMATS as readonly string[]).includes(format)) throw fieldError('access_token_format', 'must be opaque or jwt');
  allowed('tokenFormats', format, `access_token_format ${format}`);
  // ---- names, URLs, contacts, software ----
  const clientName = optionalText(d, 'client_name', 200);
  const logoUri = optionalWebUrl(d, 'logo_uri');
  const clientUri = optionalWebUrl(d, 'client_uri');
  const policyUri = optionalWebUrl(d, 'policy_uri');
  const tosUri = optionalWebUrl(d, 'tos_uri');
  let contacts: string[] | undefined;
  if (d.contacts !== undefined && d.contacts !== null) {
    if (!Array.isArray(d.contacts) || d.contacts.length > MAX_CONTACTS || d.contacts.some((c) => typeof c !== 'string' || c.length > 200 || /[\x00-\x1f\x7f]/.test(c))) {
      throw fieldError('contacts', `must be an array of at most ${MAX_CONTACTS} strings`);
    }
    contacts = d.contacts as string[];
  }
  const softwareId = optionalText(d, 'software_id', 200);
  const softwareVersion = optionalText(d, 'software_version', 100);
  const idTokenAlg = d.id_token_signed_response_alg;
  if (idTokenAlg !== undefined && (typeof idTokenAlg !== 'string' || !(ID_TOKEN_SIGNING_ALGORITHMS as readonly string[]).includes(idTokenAlg))) {
    throw fieldError('id_token_signed_response_alg', `must be one of ${ID_TOKEN_SIGNING_ALGORITHMS.join(', ')}`);
  }
  // RFC 9126 §6 require_pushed_authorization_requests: a boolean, false when omitted.
  const parRequired = d.require_pushed_authorization_requests;
  if (parRequired !== undefined && typeof parRequired !== 'boolean') throw fieldError('require_pushed_authorization_requests', 'must be true or false');
  const dpopBound = d.dpop_bound_access_tokens;
  if (dpopBound !== undefined && dpopBound !== null && typeof dpopBound !== 'boolean') throw fieldError('dpop_bound_access_tokens', 'must be true or false');
  const metadata: RegisteredMetadata = {
    redirect_uris: redirectUris,
    grant_types: grantTypes,
    response_types: responseTypes,
    token_endpoint_auth_method: method,
    application_type: applicationType,
    ...(clientName === undefined ? {} : { client_name: clientName }),
    scope: scopes.join(' '),
    ...(logoUri === undefined ? {} : { logo_uri: logoUri }),
    ...(clientUri === undefined ? {} : { client_uri: clientUri }),
    ...(policyUri === undefined ? {} : { policy_uri: policyUri }),
    ...(tosUri === undefined ? {} : { tos_uri: tosUri }),
    ...(contacts === undefined ? {} : { contacts }),
    ...(jwks === undefined ? {} : { jwks: JSON.parse(jwks) as unknown }),
    ...(jwksUri === undefined ? {} : { jwks_uri: jwksUri }),
    ...(softwareId === undefined ? {} : { software_id: softwareId }),
    ...(softwareVersion === undefined ? {} : { software_version: softwareVersion }),
    ...(typeof idTokenAlg === 'string' ? { id_token_signed_response_alg: idTokenAlg } : {}),
    ...(dpopBound === true ? { dpop_bound_access_tokens: true } : {}),
    access_token_format: format as TokenFormat,
    ...(parRequired === true ? { require_pushed_authorization_requests: true as const } : {}),
  };
  const input: ApplicationInput = {
    name: clientName ?? (softwareId !== undefined ? softwareId : `Registered client (${new URL(redirectUris[0] as string).host || applicationType})`),
    public: method === 'none',
    grantTypes,
    redirectUris,
    scopes,
    tokenFormat: format,
    logoUri: logoUri ?? null,
    jwks: jwks ?? null,
    jwksUri: jwksUri ?? null,
    ...(typeof idTokenAlg === 'string' ? { idTokenSignedResponseAlg: idTokenAlg } : {}),
    parRequired: parRequired === true,
    dpopRequired: dpopBound === true,
  };
  return { metadata, input, fingerprint: metadataFingerprint(metadata) };
}

/** The members of an update body that are not metadata (RFC 7592 §2.2), left out before checking. */
export function metadataOnly(d: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(d).filter(([k]) => !ECHOED.has(k)));
}

function metadataNameOf(field: string): string {
  return (
    {
      grantTypes: 'grant_types',
      scopes: 'scope',
      redirectHosts: 'redirect_uris',
      tokenFormats: 'access_token_format',
      authMethods: 'token_endpoint_auth_method',
      applicationTypes: 'application_type',
    } as Record<string, string>
  )[field] ?? field;
}
