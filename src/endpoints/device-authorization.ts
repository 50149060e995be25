import type { RefusalRecorder } from '../audit/refusals.js';
import type { ClientAuthMethod, ClientAuthMethodName } from '../client-auth/types.js';
import type { Clock } from '../core/clock.js';
import { newId } from '../core/crypto.js';
import { parseForm } from '../core/form.js';
import type { Logger } from '../core/logger.js';
import type { NeutralRequest, NeutralResponse } from '../core/request.js';
import type { DeviceAuthorization } from '../domain/model.js';
import { invalidRequest, unauthorizedClient } from '../errors/errors.js';
import { displayUserCode, newDeviceCode, newUserCode, userCodeHash } from '../grants/device-code-format.js';
import { DEVICE_CODE_GRANT } from '../grants/grant-type.js';
import { checkResources, fitScopes, type ResourceLookup } from '../grants/resource.js';
import { grantedScopes } from '../grants/scope.js';
import type { RefusalContext } from '../grants/types.js';
import type { RegistryCache } from '../registry/cache.js';
import type { RateLimits } from '../registry/rate-limits.js';
import { StorageError, type Storage } from '../storage/types.js';
import { countAddress, countClient, withRateHeaders, type RateState } from './rate-limit.js';
import { answer, authenticateCaller, checkTransport, JSON_NO_STORE, type TransportRules } from './shared.js';
import { userCodeKeys, type SecretDeriver } from '../web/signing.js';

/** POST /oauth/device_authorization (RFC 8628 §3.1). */
export const DEVICE_AUTHORIZATION_PATH = '/oauth/device_authorization';
/** Where the user enters the code (RFC 8628 §3.2 verification_uri): the sign-in UI's user-code page. */
export const DEVICE_VERIFICATION_PATH = '/oauth/device';

const TRANSPORT: TransportRules = {
  name: 'device authorization endpoint',
  section: 'RFC 8628 section 3.1',
  sensitiveQuery: ['client_secret', 'client_id', 'client_assertion', 'scope'],
};

export interface DeviceAuthorizationDeps {
  readonly cache: Pick<RegistryCache, 'applicationByClientId' | 'peekApplicationByClientId' | 'properties' | 'peekProperties' | 'check' | 'rememberVerifiedSecret' | 'verifiedSecret'>;
  readonly storage: Pick<Storage, 'deviceCodes' | 'scopes'>;
  readonly clientAuthMethods: ReadonlyMap<ClientAuthMethodName, ClientAuthMethod>;
  readonly refusals: RefusalRecorder;
  readonly logger: Logger;
  readonly clock: Clock;
  readonly issuer: () => string;
  readonly rateLimits?: RateLimits;
  readonly resources?: ResourceLookup;
  /** Derives the key of user-code hashes from the key-encryption key (web/signing.ts userCodeKeys); absent: unkeyed. */
  readonly secrets?: SecretDeriver;
}

export interface DeviceAuthorizationEndpoint {
  handle(req: NeutralRequest): Promise<NeutralResponse>;
}

/** Draws user codes until one is free (20^8 codes: a collision is rare, three in a row never happens in practice). */
async function insertFresh(storage: DeviceAuthorizationDeps['storage'], make: (userCode: string) => DeviceAuthorization): Promise<string> {
  for (let attempt = 0; ; attempt++) {
    const userCode = newUserCode();
    try {
      await storage.deviceCodes.insert(make(userCode));
      return userCode;
    } catch (error) {
      if (!(error instanceof StorageError) || error.code !== 'conflict' || attempt >= 4) throw error;
    }
  }
}

/**
 * The device authorization endpoint: the client (authenticated as at the token endpoint; a public
 * client by its client_id) asks for a device code and a user code for the scopes and resources it
 * names; the user then enters the code at verification_uri.
 * @see RFC 8628 §3.1, §3.2; RFC 8707 §2
 */
export function createDeviceAuthorizationEndpoint(deps: DeviceAuthorizationDeps): DeviceAuthorizationEndpoint {
  const userCodeKey = userCodeKeys(deps.secrets);
  async function process(req: NeutralRequest, refusal: RefusalContext, rate: RateState): Promise<NeutralResponse> {
    const byAddress = countAddress(deps.rateLimits, rate, 'device_authorization', req);
    if (byAddress !== undefined) await byAddress;
    // RFC 8628 §3.1: "The client makes a device authorization request ... using HTTP POST" form-encoded.
    checkTransport(req, TRANSPORT);
    const resourceParams: string[] = [];
    const params = parseForm(req.body, { name: 'resource', values: resourceParams });
    const properties = deps.cache.peekProperties() ?? (await deps.cache.properties());
    if (!properties['com.snc.platform.security.oauth.is.active']) {
      throw invalidRequest
        .withReason('instance.oauth_inactive')
        .withDescription('OAuth is disabled on this instance. An administrator must set com.snc.platform.security.oauth.is.active to true.')
        .withFacts({ property: 'com.snc.platform.security.oauth.is.active' });
    }
    const client = await authenticateCaller(deps, req, params, refusal);
    const app = client.application;
    refusal.applicationName = app.name;
    const byClient = countClient(deps.rateLimits, rate, app);
    if (byClient !== undefined) await byClient;
    if (!app.grantTypes.includes(DEVICE_CODE_GRANT)) {
      throw unauthorizedClient
        .withReason('grant.not_allowed_for_application')
        .withDescription(`The application ${app.name} is not allowed the ${DEVICE_CODE_GRANT} grant. An administrator must add it to the application's grant types (latchkey apps update ${app.clientId} --grant-types ${[...app.grantTypes, 'device_code'].join(',')}).`)
        .withFacts({ requestedGrant: DEVICE_CODE_GRANT });
    }
    const asked = await grantedScopes(deps.storage, app, params.scope);
    const resources = await checkResources(deps.resources, app, resourceParams);
    const scopes = fitScopes(resources, asked, params.scope !== undefined);
    const now = deps.clock.now();
    const lifetime = properties['latchkey.device.code_lifetime'];
    const interval = properties['latchkey.device.interval'];
    const device = newDeviceCode(now);
    const hashKey = await userCodeKey();
    const userCode = await insertFresh(deps.storage, (code) => ({
      id: newId(),
      deviceHash: device.hash,
      userHash: userCodeHash(code, hashKey),
      applicationId: app.id,
      scopes,
      resources: resources.map((r) => r.uri),
      status: 'pending',
      userId: null,
      authTime: null,
      createdAt: now,
      expiresAt: now + lifetime * 1000,
      intervalSeconds: interval,
      lastPollAt: null,
      decidedAt: null,
    }));
    const verificationUri = `${deps.issuer()}${DEVICE_VERIFICATION_PATH}`;
    const shown = displayUserCode(userCode);
    const body = {
      device_code: device.code,
      user_code: shown,
      verification_uri: verificationUri,
      verification_uri_complete: `${verificationUri}?user_code=${shown}`,
      expires_in: lifetime,
      interval,
    };
    return { status: 200, headers: withRateHeaders(JSON_NO_STORE, rate), body: JSON.stringify(body) };
  }
  return {
    handle: (req) => {
      const rate: RateState = { counted: 0, verdict: undefined };
      return answer(deps, 'device_authorization', req, (r, refusal) => process(r, refusal, rate));
    },
  };
}
