import type { OAuthError } from '../errors/oauth-error.js';
import type { Logger } from '../core/logger.js';
import type { Refusal, Storage } from '../storage/types.js';

export interface RefusalInput {
  readonly requestId: string;
  readonly endpoint: string;
  readonly remoteAddress: string;
  readonly error: OAuthError;
  readonly clientId?: string | undefined;
  readonly applicationName?: string | undefined;
  readonly userName?: string | undefined;
  /**
   * Whether the caller proved a credential before being refused (a client that authenticated, a
   * valid token refused for its scope, a signed-in user). Refusals of callers that did not are
   * kept one by one only up to a budget per minute (see createRefusalRecorder).
   */
  readonly authenticated?: boolean | undefined;
}

export interface RefusalRecorder {
  record(input: RefusalInput): Promise<void>;
}

function clip(value: string | undefined, max: number): string | null {
  if (value === undefined) return null;
  return value.length > max ? value.slice(0, max) : value;
}

/**
 * Records every refusal (storage, for `latchkey explain`) and logs it as one JSON line. Neither
 * holds a secret or a token: only ids, names, the reason and the client-safe description.
 */
export function createRefusalRecorder(deps: { storage: Pick<Storage, 'refusals'>; logger: Logger; clock: { now(): number } }): RefusalRecorder {
  return {
    async record(input) {
      const refusal: Refusal = {
        requestId: input.requestId,
        at: deps.clock.now(),
        endpoint: input.endpoint,
        status: input.error.status,
        error: input.error.error,
        reason: input.error.reason,
        description: input.error.description,
        hint: clip(input.error.hint, 1000),
        // A client id comes from the caller: clip it so a huge one cannot bloat the table or the log.
        clientId: clip(input.clientId, 200),
        applicationName: clip(input.applicationName, 200),
        userName: clip(input.userName, 200),
        remoteAddress: clip(input.remoteAddress, 100),
      };
      deps.logger.info(
        { requestId: refusal.requestId, endpoint: refusal.endpoint, status: refusal.status, error: refusal.error, reason: refusal.reason, clientId: refusal.clientId, userName: refusal.userName, remoteAddress: refusal.remoteAddress },
        'request refused',
      );
      try {
        await deps.storage.refusals.record(refusal);
      } catch (error) {
        deps.logger.error({ requestId: refusal.requestId, err: error }, 'could not record refusal');
      }
    },
  };
}
