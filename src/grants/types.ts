import type { AuthenticatedClient } from '../client-auth/types.js';
import type { Clock } from '../core/clock.js';
import type { NeutralRequest } from '../core/request.js';
import type { RegistryCache } from '../registry/cache.js';
import type { PasswordLockout } from '../registry/lockout.js';
import type { PropertyValues } from '../registry/properties.js';
import type { GrantType, Storage } from '../storage/types.js';
import type { Mint, TokenResponseBody } from '../tokens/issuer.js';

/** What a refusal record learns about the caller as the request goes. */
export interface RefusalContext {
  clientId?: string;
  applicationName?: string;
  userName?: string;
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
  readonly storage: Pick<Storage, 'tokens'>;
  readonly clock: Clock;
  readonly mint: Mint;
  readonly lockout: PasswordLockout;
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
  validate(ctx: GrantContext): Promise<Plan>;
  issue(plan: Plan, ctx: GrantContext): Promise<TokenResponseBody>;
}
