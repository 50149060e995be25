import type { RefusalRecorder } from '../audit/refusals.js';
import type { ClientAuthMethod, ClientAuthMethodName } from '../client-auth/types.js';
import type { Clock } from '../core/clock.js';
import { tokenHint } from '../core/crypto.js';
import { parseForm } from '../core/form.js';
import type { Logger } from '../core/logger.js';
import type { NeutralRequest, NeutralResponse } from '../core/request.js';
import { invalidRequest, unauthorizedClient } from '../errors/errors.js';
import type { RefusalContext } from '../grants/types.js';
import type { RegistryCache } from '../registry/cache.js';
import type { Storage } from '../storage/types.js';
import { tokenRecordFacts } from '../tokens/record-facts.js';
import { answer, authenticateCaller, checkTransport, type TokenLocator, type TransportRules } from './shared.js';

const TRANSPORT: TransportRules = {
  name: 'revocation endpoint',
  section: 'RFC 7009 section 2.1',
  sensitiveQuery: ['token', 'client_id', 'client_secret', 'client_assertion'],
};

/**
 * RFC 7009 §2.2: "The content of the response body is ignored by the client as all necessary
 * information is conveyed in the response code." The body is the empty JSON object, as
 * application/json, and nothing to cache: clients that parse every answer of the server as JSON
 * (simple-oauth2's revokeAll() refused an empty text/plain body, and then left the refresh token
 * valid) read it as the success it is.
 */
const REVOKED: NeutralResponse = { status: 200, headers: { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', pragma: 'no-cache' }, body: '{}' };

export interface RevocationDeps {
  readonly cache: Pick<RegistryCache, 'applicationByClientId' | 'peekApplicationByClientId' | 'check' | 'clear' | 'rememberVerifiedSecret' | 'verifiedSecret'>;
  readonly storage: Pick<Storage, 'tokens'>;
  readonly clientAuthMethods: ReadonlyMap<ClientAuthMethodName, ClientAuthMethod>;
  readonly locate: TokenLocator;
  readonly clock: Clock;
  readonly refusals: RefusalRecorder;
  readonly logger: Logger;
}

export interface RevocationEndpoint {
  handle(req: NeutralRequest): Promise<NeutralResponse>;
}

/**
 * POST /oauth/revoke and /oauth_revoke_token.do: a client says it no longer needs a token.
 *
 * - The client authenticates as at the token endpoint; a public client identifies itself with its
 *   client_id (§2.1).
 * - A token this instance does not know, or that is already invalid, gets 200 (§2.2: "invalid
 *   tokens do not cause an error response").
 * - A token issued to another application is refused and left as it was (§2.1: the server "verifies
 *   whether the token was issued to the client making the revocation request. If this validation
 *   fails, the request is refused"). The error code is unauthorized_client (RFC 6749 §5.2: "the
 *   authenticated client is not authorized"), status 400.
 * - A refresh token takes its whole family with it: every refresh and access token issued from the
 *   same grant (§2.1: the server "SHOULD also invalidate all access tokens based on the same
 *   authorization grant"). An access token is revoked alone (§2.1 leaves the refresh token to us: MAY).
 * - Both types are supported, opaque and JWT, so `unsupported_token_type` (§2.2.1) is never sent,
 *   and `token_type_hint` is ignored (§2.1: the server "MAY ignore this parameter").
 *
 * The revocation is committed before the 200, bumps the storage change version (so every instance
 * drops its cached answer for the token within the poll interval, at once where PostgreSQL
 * notifications arrive), and this instance checks the version before answering, so its own APIs
 * refuse the token from the moment the client reads the 200.
 * @see RFC 7009 §2
 */
export function createRevocationEndpoint(deps: RevocationDeps): RevocationEndpoint {
  async function process(req: NeutralRequest, refusal: RefusalContext): Promise<NeutralResponse> {
    checkTransport(req, TRANSPORT);
    const params = parseForm(req.body);
    const { application: app } = await authenticateCaller(deps, req, params, refusal);
    const token = params.token;
    if (token === undefined) {
      throw invalidRequest.withReason('request.missing_parameter').withDescription('The token parameter is required (RFC 7009 section 2.1).').withFacts({ missingParameter: 'token' });
    }
    const located = await deps.locate(token);
    const record = located === undefined ? undefined : await deps.storage.tokens.byHash(located.key);
    if (record === undefined) return REVOKED;
    if (record.applicationId !== app.id) {
      throw unauthorizedClient
        .withReason('revoke.wrong_client')
        .withDescription(`The token was not issued to the application ${app.name}, so it cannot revoke it.`)
        .withHint(tokenHint(record.hash, `It belongs to application id ${record.applicationId}; left unchanged.`))
        .withFacts(tokenRecordFacts(record, { now: deps.clock.now() }));
    }
    const now = deps.clock.now();
    // Every status: a rotated or expired refresh token still names a family whose newer tokens the
    // client wants gone; revoking what is already revoked changes nothing.
    const changed = record.kind === 'refresh' ? (await deps.storage.tokens.revokeFamily(record.familyId, now)) > 0 : await deps.storage.tokens.revoke(record.hash, now);
    if (changed) {
      // Drop this instance's cached answers now rather than at the next poll. The revocation is
      // committed either way; if the version cannot be read, clearing is the safe fallback.
      await deps.cache.check().catch(() => deps.cache.clear());
    }
    return REVOKED;
  }

  return {
    handle: (req) => answer(deps, 'revoke', req, process),
  };
}
