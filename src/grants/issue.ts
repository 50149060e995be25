import type { Application, NewTokenRecord } from '../domain/model.js';
import type { Minted, MintInput, TokenResponseBody } from '../tokens/issuer.js';
import type { GrantDeps } from './types.js';

export interface IssueOptions {
  /**
   * Stores the minted records instead of inserting them (the refresh grant rotates: it consumes
   * the presented token and stores the new ones at once). Throws to refuse; nothing is answered then.
   */
  readonly store?: (records: NewTokenRecord[]) => Promise<void>;
}

/**
 * The tail of every grant: mints the tokens (opaque or JWT, per the application), stores their
 * records (hashes only) and returns the RFC 6749 §5.1 body. `now` defaults to the clock's.
 *
 * This runs on every token request, so it is written for the hot path (measured: 2 µs of a
 * 16 µs request in-process when it spread `input` and was an async function): the minter gets a
 * plain literal of one shape, and no promise is made beyond the storage's own.
 */
export function issueTokens(
  deps: Pick<GrantDeps, 'mint' | 'storage' | 'clock'>,
  input: Omit<MintInput, 'now'> & { readonly now?: number },
  options: IssueOptions = {},
): Promise<TokenResponseBody> {
  const mintInput: MintInput = {
    application: input.application,
    userId: input.userId,
    scopes: input.scopes,
    grantType: input.grantType,
    ...(input.familyId === undefined ? {} : { familyId: input.familyId }),
    withRefreshToken: input.withRefreshToken,
    ...(input.refreshExpiresAt === undefined ? {} : { refreshExpiresAt: input.refreshExpiresAt }),
    now: input.now ?? deps.clock.now(),
    ...(input.audience === undefined ? {} : { audience: input.audience }),
    ...(input.refreshAudience === undefined ? {} : { refreshAudience: input.refreshAudience }),
    ...(input.refreshScopes === undefined ? {} : { refreshScopes: input.refreshScopes }),
    ...(input.jkt === undefined ? {} : { jkt: input.jkt }),
    ...(input.refreshJkt === undefined ? {} : { refreshJkt: input.refreshJkt }),
    ...(input.act === undefined ? {} : { act: input.act }),
    ...(input.lifetime === undefined ? {} : { lifetime: input.lifetime }),
  };
  const m = deps.mint(mintInput);
  // JWT formats sign asynchronously; opaque mints synchronously.
  return m instanceof Promise ? m.then((minted) => store(deps, minted, options)) : store(deps, m, options);
}

function store(deps: Pick<GrantDeps, 'storage'>, minted: Minted, options: IssueOptions): Promise<TokenResponseBody> {
  const stored = options.store === undefined ? deps.storage.tokens.insert(minted.records) : options.store(minted.records);
  return stored.then(() => minted.body);
}

/**
 * RFC 9449 §5: the key a new refresh token is bound to: a public client's proof key (its refresh
 * tokens are sender-constrained); a confidential client's refresh tokens are not bound (it
 * authenticates), only the access tokens issued to it.
 */
export function refreshJktOf(application: Application, jkt: string | undefined): string | undefined {
  return application.public ? jkt : undefined;
}
