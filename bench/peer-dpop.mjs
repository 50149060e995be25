#!/usr/bin/env node
// The peer of bench/dpop.sh: panva/oidc-provider (the shared harness's copy, 9.13.3) set up for
// grant_type=client_credentials with DPoP (RFC 9449) enabled, as the shared harness's peer is
// set up for plain client credentials (shared/bench/peer-oidc-provider/server.mjs) but with
// features.dPoP on. A request with a DPoP header gets a DPoP-bound token (token_type DPoP, the
// proof's jti checked against oidc-provider's replay store); one without gets a Bearer token.
// Server nonces are off, as on Latchkey by default (latchkey.dpop.nonce_required false).
//
// Storage: oidc-provider's in-memory adapter (a process-local LRU of 1000 entries): tokens and the
// DPoP replay records are not durable and not shared across instances. Latchkey commits both to
// its database.
//
// env: PORT (default 3920, bound to 127.0.0.1), TOKEN_FORMAT opaque | jwt (default opaque),
//      OIDC_PROVIDER_DIR (a folder whose node_modules holds oidc-provider), BENCH_CLIENT_ID,
//      BENCH_CLIENT_SECRET.
import { createServer } from 'node:http';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const PORT = Number(process.env.PORT || 3920);
const HOST = '127.0.0.1';
const TOKEN_FORMAT = (process.env.TOKEN_FORMAT || 'opaque').toLowerCase();
const CLIENT_ID = process.env.BENCH_CLIENT_ID || 'bench-client';
const CLIENT_SECRET = process.env.BENCH_CLIENT_SECRET || 'bench-secret-0123456789abcdef';
const PROVIDER_DIR = process.env.OIDC_PROVIDER_DIR;
if (!PROVIDER_DIR) throw new Error('OIDC_PROVIDER_DIR must name the folder whose node_modules holds oidc-provider');
if (!['opaque', 'jwt'].includes(TOKEN_FORMAT)) throw new Error(`TOKEN_FORMAT must be opaque|jwt, got ${TOKEN_FORMAT}`);

// oidc-provider prints NOTICE/WARNING lines (and "Unsupported runtime" on Node 20); silence them.
for (const m of ['info', 'warn', 'log', 'debug']) {
  const orig = console[m].bind(console);
  console[m] = (...args) => {
    if (typeof args[0] === 'string' && args[0].startsWith('oidc-provider ')) return;
    orig(...args);
  };
}
const { default: Provider } = await import(pathToFileURL(join(PROVIDER_DIR, 'node_modules', 'oidc-provider', 'lib', 'index.js')).href);

const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' });
const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'jwk' });
const ISSUER = `http://${HOST}:${PORT}`;
const RESOURCE = 'https://api.bench.example';

const provider = new Provider(ISSUER, {
  clients: [{ client_id: CLIENT_ID, client_secret: CLIENT_SECRET, grant_types: ['client_credentials'], response_types: [], redirect_uris: [], token_endpoint_auth_method: 'client_secret_basic' }],
  jwks: { keys: [{ ...rsa, kid: 'rs256-bench', alg: 'RS256', use: 'sig' }, { ...ec, kid: 'es256-bench', alg: 'ES256', use: 'sig' }] },
  cookies: { keys: [randomBytes(32).toString('base64url')] },
  enabledJWA: { idTokenSigningAlgValues: ['RS256', 'ES256'], dPoPSigningAlgValues: ['ES256', 'EdDSA'] },
  features: {
    clientCredentials: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: async () => RESOURCE,
      useGrantedResource: async () => true,
      getResourceServerInfo: async (_ctx, resourceIndicator) => {
        if (resourceIndicator !== RESOURCE) throw new Provider.errors.InvalidTarget();
        return { scope: 'api:read api:write', audience: RESOURCE, accessTokenTTL: 3600, accessTokenFormat: TOKEN_FORMAT, ...(TOKEN_FORMAT === 'jwt' ? { jwt: { sign: { alg: 'ES256' } } } : {}) };
      },
    },
    dPoP: { enabled: true, requireNonce: () => false },
    devInteractions: { enabled: false },
    rpInitiatedLogout: { enabled: false },
    pushedAuthorizationRequests: { enabled: false },
    userinfo: { enabled: false },
    introspection: { enabled: false },
    revocation: { enabled: false },
    registration: { enabled: false },
  },
  issueRefreshToken: async () => false,
  clientBasedCORS: () => false,
  ttl: { ClientCredentials: 3600 },
  renderError: async (ctx, out) => {
    ctx.type = 'json';
    ctx.body = out;
  },
});
provider.proxy = false;
provider.on('server_error', () => {});

const server = createServer(provider.callback());
server.keepAliveTimeout = 65_000;
server.listen(PORT, HOST, () => process.stdout.write(`oidc-provider (DPoP) ready ${ISSUER} format=${TOKEN_FORMAT} token_endpoint=${ISSUER}/token\n`));
const stop = () => server.close(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
