import type { NeutralRequest } from '../core/request.js';
import type { Application } from '../domain/model.js';
import type { OAuthError } from '../errors/oauth-error.js';

export type ClientAuthMethodName = 'client_secret_basic' | 'client_secret_post' | 'none' | 'private_key_jwt';

/** What a request presented, before anything is checked against the registry. */
export interface PresentedClient {
  readonly method: ClientAuthMethodName;
  readonly clientId: string;
  readonly clientSecret?: string;
  /**
   * private_key_jwt (RFC 7523 §2.2): verifies the client assertion against the keys the
   * application registered and consumes its jti; throws an OAuthError refusal.
   */
  readonly verifyAssertion?: (application: Application) => Promise<void>;
  /**
   * The refusal when no application has the client id, for a method whose refusals of a known
   * client read differently from client_auth.unknown_client (private_key_jwt): the same answer, after
   * the same work (a signature check with a key nobody holds). Default: client_auth.unknown_client.
   */
  readonly refuseUnknownClient?: (hint: string) => Promise<OAuthError>;
}

/**
 * One client-authentication method (RFC 6749 §2.3, RFC 7591 §2 names). `presentIn` only looks;
 * `extract` parses and throws an OAuthError when the credential is malformed.
 */
export interface ClientAuthMethod {
  readonly name: ClientAuthMethodName;
  presentIn(req: NeutralRequest, params: Readonly<Record<string, string>>): boolean;
  extract(req: NeutralRequest, params: Readonly<Record<string, string>>): PresentedClient;
}

export interface AuthenticatedClient {
  readonly application: Application;
  readonly method: ClientAuthMethodName;
}
