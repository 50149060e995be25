import type { AssertionDeps } from '../assertions/assertion.js';
import { constantTimeEqual, hashSecret, verifySecret } from '../core/crypto.js';
import type { NeutralRequest } from '../core/request.js';
import { invalidClient, invalidRequest } from '../errors/errors.js';
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

/** Hash compared when the client id is unknown, so both failures cost the same. */
const UNKNOWN_CLIENT_HASH = hashSecret('latchkey-unknown-client');

/** Partial knowledge about the caller, for the refusal record, filled in as authentication goes. */
export interface ClientContext {
  clientId?: string;
  /** Known once the client id matched an application, even if authentication then failed. */
  applicationName?: string;
  application?: AuthenticatedClient['application'];
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
  const present: ClientAuthMethod[] = [];
  for (const m of methods.values()) if (m.presentIn(req, params)) present.push(m);
  if (present.length > 1) {
    throw invalidRequest
      .withReason('client_auth.multiple_methods')
      .withDescription('Send client credentials either in the Authorization header or in the body, not both (RFC 6749 section 2.3).');
  }
  const method = present[0];
  if (method === undefined) {
    throw invalidClient
      .withReason('client_auth.missing')
      .withDescription('Client authentication is required: send HTTP Basic credentials or client_id and client_secret in the body.');
  }
  const presented = method.extract(req, params);
  // A client_id in the body beside Basic credentials is tolerated only when it names the same client.
  if (presented.method === 'client_secret_basic' && params.client_id !== undefined && params.client_id !== presented.clientId) {
    throw invalidRequest
      .withReason('client_auth.multiple_methods')
      .withDescription('The client_id in the body differs from the one in the Authorization header.');
  }
  return presented;
}

/** Whether the request carries client credentials of any method other than a bare client_id (`none`). */
export function presentsCredentials(
  methods: ReadonlyMap<ClientAuthMethodName, ClientAuthMethod>,
  req: NeutralRequest,
  params: Readonly<Record<string, string>>,
): boolean {
  for (const m of methods.values()) if (m.name !== 'none' && m.presentIn(req, params)) return true;
  return false;
}

type SecretCache = Pick<RegistryCache, 'rememberVerifiedSecret' | 'verifiedSecret'>;

/** Compares with a secret verified before (constant time), else with the stored hash. */
function secretMatches(cache: SecretCache, clientId: string, presented: string, storedHash: string): boolean {
  const known = cache.verifiedSecret(clientId);
  if (known !== undefined) return constantTimeEqual(known, presented);
  const ok = verifySecret(presented, storedHash);
  if (ok) cache.rememberVerifiedSecret(clientId, presented);
  return ok;
}

export async function authenticateClient(
  cache: Pick<RegistryCache, 'applicationByClientId' | 'peekApplicationByClientId'> & SecretCache,
  presented: PresentedClient,
  context: ClientContext,
): Promise<AuthenticatedClient> {
  context.clientId = presented.clientId;
  const app = cache.peekApplicationByClientId(presented.clientId) ?? (await cache.applicationByClientId(presented.clientId));
  if (app === undefined) {
    if (presented.clientSecret !== undefined) verifySecret(presented.clientSecret, UNKNOWN_CLIENT_HASH);
    throw invalidClient.withReason('client_auth.unknown_client').withHint(`No application has client id ${presented.clientId}.`);
  }
  context.applicationName = app.name;
  if (presented.method === 'none') {
    if (!app.public) {
      throw invalidClient.withReason('client_auth.secret_required').withHint(`Confidential application "${app.name}" sent no secret.`);
    }
  } else if (presented.verifyAssertion !== undefined) {
    await presented.verifyAssertion(app);
  } else if (app.public || app.secretHash === null) {
    throw invalidClient.withReason('client_auth.public_client_secret').withHint(`Application "${app.name}" is public and has no secret.`);
  } else if (!secretMatches(cache, app.clientId, presented.clientSecret ?? '', app.secretHash)) {
    throw invalidClient.withReason('client_auth.secret_mismatch').withHint(`Wrong secret for application "${app.name}".`);
  }
  context.application = app;
  if (!app.active) {
    // The caller proved it holds the credentials, so it may learn the application's state.
    throw invalidClient
      .withReason('client_auth.application_inactive')
      .withDescription(`The application ${app.name} is inactive. An administrator must activate it.`);
  }
  return { application: app, method: presented.method };
}
