import type { NewTokenRecord } from '../domain/model.js';
import type { MintInput, TokenResponseBody } from '../tokens/issuer.js';
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
 */
export async function issueTokens(
  deps: Pick<GrantDeps, 'mint' | 'storage' | 'clock'>,
  input: Omit<MintInput, 'now'> & { readonly now?: number },
  options: IssueOptions = {},
): Promise<TokenResponseBody> {
  const m = deps.mint({ ...input, now: input.now ?? deps.clock.now() });
  const minted = m instanceof Promise ? await m : m; // JWT formats sign asynchronously; opaque is synchronous
  if (options.store === undefined) await deps.storage.tokens.insert(minted.records);
  else await options.store(minted.records);
  return minted.body;
}
