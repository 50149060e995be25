import type { AssertionDeps } from '../assertions/assertion.js';
import { constantTimeEqual, hashSecret, randomToken, TOKEN_PREFIX, verifySecret } from '../core/crypto.js';
import type { NeutralRequest } from '../core/request.js';
import type { Application } from '../domain/model.js';
import { invalidClient, invalidRequest } from '../errors/errors.js';
import { OAuthError } from '../errors/oauth-error.js';
import type { RegistryCache } from '../registry/cache.js';
import { clientSecretBasic } from './client-secret-basic.js';
import { clientSecretPost } from './client-secret-post.js';
import { noClientAuth } from './none.js';
import { privateKeyJwt } from './private-key-jwt.js';
import type { AuthenticatedClient, ClientAuthMethod, ClientAuthMethodName, PresentedClient } from './types.js';

/**
 * Built-in methods, in detection order. private_key_jwt (RFC 7523 §2.2) is registered when its
 * dependencies (issuer, keys, one-time jti store) are given; further methods register the same way.
 */
export function defaultClientAuthMethods(assertions?: AssertionDeps): Map<ClientAuthMethodName, ClientAuthMethod> {
  const methods = new Map<ClientAuthMethodName, ClientAuthMethod>([
    [clientSecretBasic.name, clientSecretBasic],
    [clientSecretPost.name, clientSecretPost],
    [noClientAuth.name, noClientAuth],
  ]);
  if (assertions !== undefined) {
    const method = privateKeyJwt(assertions);
    methods.set(method.name, method);
  }
  return methods;
}

/**
 * What client authentication spent, as plain counters (read by the tests that prove an unknown
 * client costs what a known one does, test/callers-indistinguishable.test.ts): constant-time
 * comparisons with a remembered secret, and SHA-256 comparisons with a stored (or dummy) hash.
 */
export const CLIENT_SECRET_WORK = { compared: 0, hashed: 0 };

/**
 * The stand-ins compared when there is nothing to compare with (an unknown client id, a public
 * application, a client whose secret was not verified before): a secret of the generated shape,
 * which no client knows, and the hash of another. Every refused secret then costs the same work.
 */
const DUMMY_SECRET = randomToken(TOKEN_PREFIX.secret);
const DUMMY_HASH = hashSecret(randomToken(TOKEN_PREFIX.secret));

/** Partial knowledge about the caller, for the refusal record, filled in as authentication goes. */
export interface ClientContext {
  clientId?: string;
  /** Known once the client id matched an application, even if authentication then failed. */
  applicationName?: string;
  application?: AuthenticatedClient['application'];
}

/** The facts every client-authentication refusal carries: the methods this endpoint accepts. */
function acceptedOf(methods: ReadonlyMap<ClientAuthMethodName, ClientAuthMethod>): { acceptedAuthMethods: ClientAuthMethodName[] } {
  return { acceptedAuthMethods: [...methods.keys()] };
}

/**
 * Finds the one authentication method the request uses and checks it against the registry.
 * @see RFC 6749 §2.3 ("The client MUST NOT use more than one authentication method in each request")
 */
export function presentedClient(
  methods: ReadonlyMap<ClientAuthMethodName, ClientAuthMethod>,
  req: NeutralRequest,
  params: Readonly<Record<string, string>>,
): PresentedClient {
  // The first method present, and the others only when there is more than one (a refusal): the
  // usual request allocates nothing here.
  let method: ClientAuthMethod | undefined;
  let present: ClientAuthMethod[] | undefined;
  for (const m of methods.values()) {
    if (!m.presentIn(req, params)) continue;
    if (method === undefined) method = m;
    else (present ??= [method]).push(m);
  }
  if (present !== undefined) {
    throw invalidRequest
      .withReason('client_auth.multiple_methods')
      .withDescription('Send client credentials either in the Authorization header or in the body, not both (RFC 6749 section 2.3).')
      .withFacts({ authMethod: present.map((m) => m.name), ...acceptedOf(methods) });
  }
  if (method === undefined) {
    throw invalidClient
      .withReason('client_auth.missing')
      .withDescription('Client authentication is required: send HTTP Basic credentials or client_id and client_secret in the body.')
      .withFacts(acceptedOf(methods));
  }
  let presented: PresentedClient;
  try {
    presented = method.extract(req, params);
  } catch (error) {
    // What the method found wrong keeps its own facts; these say which method it was.
    throw error instanceof OAuthError ? error.withFacts({ authMethod: method.name, ...acceptedOf(methods), ...error.facts }) : error;
  }
  // A client_id in the body beside Basic credentials is tolerated only when it names the same client.
  if (presented.method === 'client_secret_basic' && params.client_id !== undefined && params.client_id !== presented.clientId) {
    throw invalidRequest
      .withReason('client_auth.multiple_methods')
      .withDescription('The client_id in the body differs from the one in the Authorization header.')
      .withFacts({ authMethod: ['client_secret_basic', 'client_secret_post'], ...acceptedOf(methods) });
  }
  return presented;
}

/** Whether the request carries client credentials of any method other than a bare client_id (`none`). */
/** The property that switches client_secret_post off (report it first with a rule: src/registry/rules.ts). */
export const SECRET_POST_PROPERTY = 'latchkey.client_auth.client_secret_post.enabled';

/**
 * client_auth.client_secret_post_disabled when the client sent its secret in the body while the
 * switch is off (or, for a report-only rule, would be): decided before any lookup, so the answer
 * is the same for every client id.
 */
export function secretPostRefusal(methods: ReadonlyMap<ClientAuthMethodName, ClientAuthMethod>, presented: Pick<PresentedClient, 'method'>, enabled: boolean): OAuthError | undefined {
  if (enabled || presented.method !== 'client_secret_post') return undefined;
  return invalidClient
    .withReason('client_auth.client_secret_post_disabled')
    .withDescription('This server does not accept the client secret in the request body: send the client id and secret with HTTP Basic (the Authorization header).')
    .withFacts({ authMethod: 'client_secret_post', acceptedAuthMethods: [...methods.keys()].filter((m) => m !== 'client_secret_post'), property: SECRET_POST_PROPERTY });
}

export function presentsCredentials(
  methods: ReadonlyMap<ClientAuthMethodName, ClientAuthMethod>,
  req: NeutralRequest,
  params: Readonly<Record<string, string>>,
): boolean {
  for (const m of methods.values()) if (m.name !== 'none' && m.presentIn(req, params)) return true;
  return false;
}

type SecretCache = Pick<RegistryCache, 'rememberVerifiedSecret' | 'verifiedSecret'>;

/**
 * Whether `presented` is the application's secret. Every refusal costs exactly one constant-time
 * comparison with a remembered secret and one SHA-256 comparison with a hash, whether the client
 * is unknown (`app` undefined), public, or known with a wrong secret (stand-ins where there is
 * nothing to compare with); only a secret verified before is accepted on the comparison alone.
 */
function secretMatches(cache: SecretCache, app: Application | undefined, presented: string): boolean {
  const storedHash = app === undefined || app.public ? null : app.secretHash;
  const known = storedHash === null || app === undefined ? undefined : cache.verifiedSecret(app.clientId);
  CLIENT_SECRET_WORK.compared++;
  if (constantTimeEqual(known ?? DUMMY_SECRET, presented) && known !== undefined) return true;
  CLIENT_SECRET_WORK.hashed++;
  const ok = verifySecret(presented, storedHash ?? DUMMY_HASH) && storedHash !== null;
  if (ok && app !== undefined) cache.rememberVerifiedSecret(app.clientId, presented);
  return ok;
}

/** When the secret in force was set: its last rotation, or the application's creation. */
const secretSetAt = (app: Application): string => new Date(app.secretRotatedAt ?? app.createdAt).toISOString();

/**
 * Checks presented credentials against the registry. Every refusal a caller without the
 * credentials can provoke is the same answer (invalid_client with CLIENT_AUTH_FAILED or, for a
 * client assertion, the assertion's generic text) after the same work, whether or not the client
 * id exists; the reason code and the facts tell the administrator which it was.
 */
export async function authenticateClient(
  cache: Pick<RegistryCache, 'applicationByClientId' | 'peekApplicationByClientId'> & SecretCache,
  presented: PresentedClient,
  context: ClientContext,
): Promise<AuthenticatedClient> {
  context.clientId = presented.clientId;
  const method = { authMethod: presented.method };
  const app = cache.peekApplicationByClientId(presented.clientId) ?? (await cache.applicationByClientId(presented.clientId));
  if (app === undefined) {
    const hint = `No application has client id ${presented.clientId}.`;
    if (presented.refuseUnknownClient !== undefined) throw (await presented.refuseUnknownClient(hint)).withFacts(method);
    if (presented.clientSecret !== undefined) secretMatches(cache, undefined, presented.clientSecret);
    throw invalidClient.withReason('client_auth.unknown_client').withHint(hint).withFacts(method);
  }
  context.applicationName = app.name;
  if (presented.method === 'none') {
    if (!app.public) {
      throw invalidClient.withReason('client_auth.secret_required').withHint(`Confidential application "${app.name}" sent no secret.`).withFacts(method);
    }
  } else if (presented.verifyAssertion !== undefined) {
    await presented.verifyAssertion(app);
  } else if (app.public || app.secretHash === null) {
    secretMatches(cache, app, presented.clientSecret ?? '');
    throw invalidClient.withReason('client_auth.public_client_secret').withHint(`Application "${app.name}" is public and has no secret.`).withFacts(method);
  } else if (!secretMatches(cache, app, presented.clientSecret ?? '')) {
    throw invalidClient
      .withReason('client_auth.secret_mismatch')
      .withHint(`Wrong secret for application "${app.name}".`)
      .withFacts({ ...method, secretRotatedAt: secretSetAt(app) });
  }
  context.application = app;
  if (!app.active) {
    // The caller proved it holds the credentials, so it may learn the application's state.
    throw invalidClient
      .withReason('client_auth.application_inactive')
      .withDescription(`The application ${app.name} is inactive. An administrator must activate it.`)
      .withFacts(method);
  }
  return { application: app, method: presented.method };
}
