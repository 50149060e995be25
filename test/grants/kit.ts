import assert from 'node:assert/strict';
import { KeySets } from '../../src/assertions/keys.js';
import type { ClientAuthMethodName } from '../../src/client-auth/types.js';
import { ManualClock } from '../../src/core/clock.js';
import { PasswordHasher } from '../../src/core/password-hashing.js';
import type { NeutralRequest } from '../../src/core/request.js';
import type { Application } from '../../src/domain/model.js';
import { OAuthError } from '../../src/errors/oauth-error.js';
import type { GrantContext, GrantDeps, GrantModule } from '../../src/grants/types.js';
import { cachedFetcher } from '../../src/registry/outbound-policy.js';
import { RegistryCache } from '../../src/registry/cache.js';
import { PasswordGuard } from '../../src/registry/lockout.js';
import { createMemoryStorage } from '../../src/storage/memory/adapter.js';
import type { Storage } from '../../src/storage/types.js';
import { createMinter, opaqueFormat, type TokenResponseBody } from '../../src/tokens/issuer.js';
import { BUILT_IN_GRANTS } from '../../src/grants/index.js';

export const ISSUER = 'https://latchkey.test';

/** A grant module's handler over the memory storage, without HTTP: the deps the instance would give it. */
export interface GrantKit {
  readonly storage: Storage;
  readonly clock: ManualClock;
  readonly cache: RegistryCache;
  readonly deps: GrantDeps;
  /** Registry deps (createApplication, createUser, setProperty). */
  readonly registry: { readonly storage: Storage; readonly clock: ManualClock; readonly grants: typeof BUILT_IN_GRANTS };
  /** switchedOff, validate, issue, as the token endpoint runs them (after it checked client authentication and the parameters). */
  run(module: GrantModule, app: Application, params: Record<string, string>, method?: ClientAuthMethodName): Promise<TokenResponseBody>;
  context(app: Application, params: Record<string, string>, method?: ClientAuthMethodName): Promise<GrantContext>;
  /** The application again, as the registry now has it. */
  app(clientId: string): Promise<Application>;
}

export function request(params: Record<string, string> = {}): NeutralRequest {
  return { method: 'POST', path: '/oauth/token', query: new URLSearchParams(), headers: {}, body: new URLSearchParams(params).toString(), contentType: 'application/x-www-form-urlencoded', remoteAddress: '192.0.2.1', requestId: 'test' };
}

export function grantKit(): GrantKit {
  const storage = createMemoryStorage();
  const clock = new ManualClock(Date.parse('2026-01-01T00:00:00Z'));
  const cache = new RegistryCache({ storage });
  const passwords = new PasswordGuard({ storage, cache, clock, hasher: new PasswordHasher({ concurrency: 1 }), sleep: async () => {} });
  const deps: GrantDeps = { storage, clock, cache, mint: createMinter(new Map([['opaque', opaqueFormat]])), passwords, issuer: () => ISSUER, keySets: new KeySets({ fetcher: cachedFetcher(cache) }) };
  const kit: GrantKit = {
    storage,
    clock,
    cache,
    deps,
    registry: { storage, clock, grants: BUILT_IN_GRANTS },
    async context(app, params, method = 'client_secret_basic') {
      await cache.check();
      return { req: request(params), params, client: { application: app, method }, properties: await cache.properties(), refusal: {} };
    },
    async run(module, app, params, method) {
      const handler = module.createHandler(deps);
      const ctx = await kit.context(app, params, method);
      // As the token endpoint: a grant switched off on the instance is refused before validate.
      const off = module.switchedOff?.(ctx.properties);
      if (off !== undefined) throw off;
      return handler.issue(await handler.validate(ctx), ctx);
    },
    async app(clientId) {
      await cache.check();
      const app = await cache.applicationByClientId(clientId);
      assert.ok(app !== undefined);
      return app;
    },
  };
  return kit;
}

/** Asserts a refusal: the OAuth error code and the reason recorded. */
export async function refused(p: Promise<unknown>, error: string, reason: string): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof OAuthError, String(e));
    assert.equal(e.reason, reason);
    assert.equal(e.error, error);
    return true;
  });
}
