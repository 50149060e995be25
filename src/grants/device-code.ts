import { tokenKey } from '../core/crypto.js';
import { commandLine, placeholder } from '../core/shell.js';
import type { Application, DeviceAuthorization, Facts, User } from '../domain/model.js';
import { invalidGrant } from '../errors/errors.js';
import { factTime } from '../errors/fact-values.js';
import { OAuthError } from '../errors/oauth-error.js';
import { OPENID_SCOPE } from '../registry/oidc-scopes.js';
import { DEVICE_CODE_GRANT } from './grant-type.js';
import { issueTokens, refreshJktOf } from './issue.js';
import { audienceOf, bindResources, fitScopes } from './resource.js';
import { effectiveScopes } from './scope.js';
import type { GrantContext, GrantDeps, GrantHandler, GrantModule } from './types.js';

interface Plan {
  readonly application: Application;
  readonly device: DeviceAuthorization;
  readonly user: User;
  readonly scopes: string[];
  readonly audience: string[] | undefined;
}

const START_AGAIN = 'Start a new device authorization.';

function deviceFacts(d: DeviceAuthorization): Facts {
  return { issuedAt: factTime(d.createdAt), expiredAt: factTime(d.expiresAt), pollInterval: d.intervalSeconds, lastPollAt: factTime(d.lastPollAt), decidedAt: factTime(d.decidedAt) };
}

/** RFC 8628 §3.5 error responses: 400 with the error code, no client-authentication challenge. */
function pollRefusal(error: 'authorization_pending' | 'slow_down' | 'expired_token' | 'access_denied', reason: OAuthError['reason'], description: string, facts: Facts): OAuthError {
  return new OAuthError({ error, status: 400, reason, description, facts });
}

/**
 * The device authorization grant: the device polls with its device code until the user approved
 * it on /oauth/device. Each poll is one storage statement (storage/sql/device-codes.ts) that
 * records the poll, enforces the interval (slow_down, shared by every instance) and consumes an
 * approved code, so a code yields tokens once however many polls race.
 * @see RFC 8628 §3.4, §3.5, §5.2
 */
export const deviceCode: GrantModule<Plan> = {
  grantType: DEVICE_CODE_GRANT,
  alias: 'device_code',
  label: 'Device authorization',
  summary: 'A command-line tool, CI runner or device without a browser: the user approves on another device with a short code (RFC 8628).',
  parameters: [{ name: 'device_code', required: true, description: 'The device_code of the device authorization response (POST /oauth/device_authorization).' }],
  // RFC 8628 §3.4: public clients (a CLI on a laptop) use it with their client_id.
  clientAuth: 'public_allowed',
  preset: [DEVICE_CODE_GRANT, 'refresh_token'],
  adminApi: false,
  checks({ application: app }) {
    if (app.scopes.length > 0) return [];
    return [{ id: 'device.no_scopes', text: `the application allows the device grant but no scopes, so its tokens carry none. Fix: ${commandLine(['apps', 'update', app.clientId, '--scopes', placeholder('scopes')])}` }];
  },
  instanceChecks({ applications, users }) {
    // The user approves on the sign-in pages: with no user who can sign in, nobody can approve.
    if (users.some((u) => u.active && u.passwordHash !== null)) return [];
    return [
      {
        id: 'device_grant_no_users',
        severity: 'warning',
        target: applications.map((a) => a.clientId).join(', '),
        title: 'The device grant is allowed, but no user can sign in to approve a device',
        detail: `${applications.length} application(s) allow the device authorization grant; approving a device needs an active user with a password on the sign-in pages.`,
        fix: 'Create a user with a password (or give an existing one a password), who approves devices on /oauth/device.',
        command: commandLine(['users', 'create', placeholder('name'), '--password-stdin']),
      },
    ];
  },
  example: {
    params: () => ['-d', 'device_code=<device_code>'],
    immediate: false,
  },
  createHandler: deviceCodeHandler,
};

function deviceCodeHandler(deps: GrantDeps): GrantHandler<Plan> {
  async function refuseUnknown(hash: string, presented: string, app: Application): Promise<never> {
    const store = deps.storage.deviceCodes;
    const other = store === undefined ? undefined : await store.byDeviceHash(hash);
    if (other !== undefined && other.applicationId !== app.id) {
      const owner = deps.cache.peekApplicationById(other.applicationId) ?? (await deps.cache.applicationById(other.applicationId).catch(() => undefined));
      throw invalidGrant.withReason('device.wrong_client').withDescription('The device_code was issued to another client.').withFacts({ issuedAt: factTime(other.createdAt), codeClientId: owner?.clientId ?? null });
    }
    throw invalidGrant.withReason('device.unknown_code').withDescription(`The device_code is invalid or expired. ${START_AGAIN}`).withFacts({ codeLength: presented.length });
  }

  return {
    async validate(ctx: GrantContext) {
      const app = ctx.client.application;
      const store = deps.storage.deviceCodes;
      if (store === undefined) throw new Error('The device grant needs storage.deviceCodes.');
      // Declared required: the token endpoint refused a request without it.
      const presented = ctx.params.device_code ?? '';
      const hash = tokenKey(presented);
      const now = deps.clock.now();
      const polled = await store.poll(hash, app.id, now);
      if (polled === undefined) return refuseUnknown(hash, presented, app);
      const d = polled.device;
      const facts = deviceFacts(d);
      switch (polled.outcome) {
        case 'pending':
          throw pollRefusal('authorization_pending', 'device.authorization_pending', 'The user has not yet approved this device. Keep polling.', facts);
        case 'slow_down':
          // RFC 8628 §3.5: "the interval MUST be increased by 5 seconds for this and all subsequent requests".
          throw pollRefusal('slow_down', 'device.slow_down', `Polling too fast: wait at least ${d.intervalSeconds} seconds between requests.`, { ...facts, pollInterval: d.intervalSeconds });
        case 'denied':
          throw pollRefusal('access_denied', 'device.access_denied', 'The user denied the authorization request.', facts);
        case 'expired':
          throw pollRefusal('expired_token', 'device.expired_token', `The device_code has expired. ${START_AGAIN}`, facts);
        case 'consumed':
          throw invalidGrant.withReason('device.code_used').withDescription(`The device_code was already used. ${START_AGAIN}`).withFacts(facts);
        case 'approved':
          break;
      }
      const user = d.userId === null ? undefined : await deps.cache.userById(d.userId);
      if (user !== undefined) ctx.refusal.userName = user.userName;
      if (user === undefined || !user.active) throw invalidGrant.withReason('user.inactive').withDescription('The user who approved this device is inactive. An administrator must activate it.');
      // RFC 8707: the token request may name the approved resources or fewer (none: all of them).
      const resources = await bindResources(deps.resources, ctx.resources, d.resources);
      return { application: app, device: d, user, scopes: fitScopes(resources, effectiveScopes(d.scopes, app), false), audience: audienceOf(resources) };
    },
    async issue(plan, ctx) {
      const now = deps.clock.now();
      const body = await issueTokens(deps, {
        application: plan.application,
        userId: plan.user.id,
        scopes: plan.scopes,
        grantType: DEVICE_CODE_GRANT,
        // Every token of this approval (and of its refreshes) is one family, named by the device code.
        familyId: plan.device.deviceHash,
        withRefreshToken: plan.application.grantTypes.includes('refresh_token'),
        now,
        audience: plan.audience,
        refreshAudience: plan.device.resources,
        refreshScopes: effectiveScopes(plan.device.scopes, plan.application),
        // RFC 9449: a DPoP poll binds the tokens (a public client's refresh token too).
        jkt: ctx.dpopJkt,
        refreshJkt: refreshJktOf(plan.application, ctx.dpopJkt),
      });
      // OpenID Connect Core 1.0 §3.1.3.3, as for a code: an ID token when the grant has openid.
      if (deps.idTokens === undefined || !plan.scopes.includes(OPENID_SCOPE)) return body;
      const idToken = await deps.idTokens({
        application: plan.application,
        userId: plan.user.id,
        accessToken: body.access_token,
        now,
        nonce: null,
        authTime: plan.device.authTime,
        sid: null,
        amr: plan.device.authTime === null ? null : ['pwd'],
        claims: null,
      });
      return { ...body, id_token: idToken };
    },
  };
}
