import { createRefusalRecorder, type RefusalRecorder } from './audit/refusals.js';
import { defaultClientAuthMethods } from './client-auth/authenticate.js';
import { systemClock, type Clock } from './core/clock.js';
import { silentLogger, type Logger } from './core/logger.js';
import { createTokenEndpoint, type TokenEndpoint } from './endpoints/token.js';
import { defaultGrants } from './grants/index.js';
import { RegistryCache } from './registry/cache.js';
import { PasswordLockout } from './registry/lockout.js';
import type { Storage, TokenFormat } from './storage/types.js';
import { createMinter, opaqueFormat, type AccessTokenFormat } from './tokens/issuer.js';
import { BearerValidator } from './resource-server/bearer.js';
import { createApiProvider } from './resource-server/provider.js';
import { ApiRouter } from './resource-server/router.js';

export interface LatchkeyOptions {
  readonly storage: Storage;
  readonly clock?: Clock;
  readonly logger?: Logger;
  /** How often to look for registry changes made elsewhere (ms). */
  readonly pollMs?: number;
  /** The loaded REST APIs (resource-server/load.ts); none when omitted. */
  readonly router?: ApiRouter;
  /**
   * The issuer identifier (RFC 8414 §2): --issuer / LATCHKEY_ISSUER. Never taken from a request's
   * Host header. When omitted, the host sets it from the address it listens on (setDefaultIssuer).
   */
  readonly issuer?: string;
}

/** The framework-free instance: everything a host needs to serve requests. */
export interface Latchkey {
  readonly storage: Storage;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly cache: RegistryCache;
  readonly refusals: RefusalRecorder;
  readonly tokenEndpoint: TokenEndpoint;
  readonly router: ApiRouter;
  readonly bearer: BearerValidator;
  readonly apis: ReturnType<typeof createApiProvider>;
  /** The issuer identifier: the configured one, else the listening address the host gave. */
  issuer(): string;
  /** Sets the issuer from the listening address, unless one was configured (then a no-op). */
  setDefaultIssuer(url: string): void;
  start(): Promise<void>;
  stop(): Promise<void>;
}

export function createLatchkey(options: LatchkeyOptions): Latchkey {
  const { storage } = options;
  const clock = options.clock ?? systemClock;
  const logger = options.logger ?? silentLogger;
  const cache = new RegistryCache({ storage });
  const refusals = createRefusalRecorder({ storage, logger, clock });
  const formats = new Map<TokenFormat, AccessTokenFormat>([[opaqueFormat.format, opaqueFormat]]);
  const lockout = new PasswordLockout();
  const grants = defaultGrants({ cache, storage, clock, mint: createMinter(formats), lockout });
  const tokenEndpoint = createTokenEndpoint({ cache, grants, clientAuthMethods: defaultClientAuthMethods(), refusals, logger });
  const router = options.router ?? new ApiRouter([]);
  const bearer = new BearerValidator({ storage, cache, clock });
  const apis = createApiProvider({ router, bearer, cache, lockout, clock, refusals, logger });
  let issuer = options.issuer === undefined ? undefined : options.issuer.replace(/\/+$/, '');
  const configuredIssuer = issuer !== undefined;
  return {
    storage,
    clock,
    logger,
    cache,
    refusals,
    tokenEndpoint,
    router,
    bearer,
    apis,
    issuer: () => {
      if (issuer === undefined) throw new Error('The issuer is not known yet: configure it (--issuer) or call setDefaultIssuer after listening.');
      return issuer;
    },
    setDefaultIssuer: (url) => {
      if (!configuredIssuer) issuer = url.replace(/\/+$/, '');
    },
    start: () => cache.start(options.pollMs),
    stop: async () => cache.stop(),
  };
}
