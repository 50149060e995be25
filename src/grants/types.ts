import type { ClientContext } from '../client-auth/authenticate.js';
import type { AuthenticatedClient } from '../client-auth/types.js';
import type { Clock } from '../core/clock.js';
import type { NeutralRequest } from '../core/request.js';
import type { RegistryCache } from '../registry/cache.js';
import type { PasswordGuard } from '../registry/lockout.js';
import type { PropertyValues } from '../registry/properties.js';
import type { GrantType } from '../grants/grant-type.js';
import type { Storage } from '../storage/types.js';
import type { Mint, TokenResponseBody } from '../tokens/issuer.js';

/** What a refusal record learns about the caller as the request goes. */
export interface RefusalContext {
  clientId?: string;
  applicationName?: string;
  userName?: string;
  /** The caller proved a credential (its refusal is always recorded: audit/refusals.ts). */
  authenticated?: boolean;
}

export interface GrantContext {
  readonly req: NeutralRequest;
  readonly params: Readonly<Record<string, string>>;
  readonly client: AuthenticatedClient;
  readonly properties: PropertyValues;
  readonly refusal: RefusalContext;
}

export interface GrantDeps {
  readonly cache: Pick<RegistryCache, 'userById' | 'peekUserById' | 'userByName'>;
  readonly storage: Pick<Storage, 'tokens' | 'codes' | 'replay'>;
  readonly clock: Clock;
  readonly mint: Mint;
  readonly passwords: Pick<PasswordGuard, 'check'>;
}

/**
 * One grant type (RFC 6749 §4, §6). `validate` checks everything and writes nothing; `issue` stores
 * and returns the tokens. The token endpoint looks grants up by grant_type in a Map; built-in and
 * custom grants register the same way.
 */
export interface Grant<Plan = unknown> {
  readonly grantType: GrantType;
  /** Parameters this grant reads besides grant_type, scope and client credentials. */
  readonly parameters: readonly string[];
  /** RFC 6749 §4.4: client credentials is for confidential clients only. */
  readonly publicClients: boolean;
  /**
   * For a grant whose request itself identifies and proves the client, so that client
   * authentication is optional (RFC 7523 §3.1, the JWT bearer grant): called instead of client
   * authentication when the request carries no client credentials (a bare client_id does not
   * count). Throws an OAuthError refusal; fills `context` as far as it gets, for the refusal record.
   */
  identifyClient?(req: NeutralRequest, params: Readonly<Record<string, string>>, context: ClientContext): Promise<AuthenticatedClient>;
  validate(ctx: GrantContext): Promise<Plan>;
  issue(plan: Plan, ctx: GrantContext): Promise<TokenResponseBody>;
}
