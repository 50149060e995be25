#!/usr/bin/env node
// The introspection peer of bench/suite.mjs: panva/oidc-provider (the shared harness's copy,
// 9.13.3) set up as the harness's client_credentials peer (peer-oidc-provider/server.mjs: client
// bench-client, opaque access tokens for the resource https://api.bench.example, in-memory
// adapter) with features.introspection enabled and a second confidential client, bench-rs, that
// introspects (RFC 7662, client_secret_basic), as Latchkey's resource-server application does.
//
// env: PORT (default 3911, bound to 127.0.0.1), OIDC_PROVIDER_DIR (a folder whose node_modules holds
//      oidc-provider: the harness copy's peer-oidc-provider).
import { createServer } from 'node:http';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const PORT = Number(process.env.PORT || 3911);
const HOST = '127.0.0.1';
const ISSUER = `http://${HOST}:${PORT}`;
const RESOURCE = 'https://api.bench.example';
const PROVIDER_DIR = process.env.OIDC_PROVIDER_DIR;
if (!PROVIDER_DIR) throw new Error('OIDC_PROVIDER_DIR must name the folder whose node_modules holds oidc-provider');

for (const m of ['info', 'warn', 'log', 'debug']) {
  const orig = console[m].bind(console);
  console[m] = (...args) => {
    if (typeof args[0] === 'string' && args[0].startsWith('oidc-provider ')) return;
    orig(...args);
  };
}
const { default: Provider } = await import(pathToFileURL(join(PROVIDER_DIR, 'node_modules', 'oidc-provider', 'lib', 'index.js')).href);

const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' });
const provider = new Provider(ISSUER, {
  clients: [
    { client_id: 'bench-client', client_secret: 'bench-secret-0123456789abcdef', grant_types: ['client_credentials'], response_types: [], redirect_uris: [], token_endpoint_auth_method: 'client_secret_basic' },
    { client_id: 'bench-rs', client_secret: 'bench-rs-secret-0123456789abcdef', grant_types: [], response_types: [], redirect_uris: [], token_endpoint_auth_method: 'client_secret_basic' },
  ],
  jwks: { keys: [{ ...rsa, kid: 'rs256-bench', alg: 'RS256', use: 'sig' }] },
  cookies: { keys: [randomBytes(32).toString('base64url')] },
  features: {
    clientCredentials: { enabled: true },
    introspection: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: async () => RESOURCE,
      useGrantedResource: async () => true,
      getResourceServerInfo: async (_ctx, indicator) => {
        if (indicator !== RESOURCE) throw new Provider.errors.InvalidTarget();
        return { scope: 'api:read api:write', audience: RESOURCE, accessTokenTTL: 3600, accessTokenFormat: 'opaque' };
      },
    },
    devInteractions: { enabled: false },
    rpInitiatedLogout: { enabled: false },
    userinfo: { enabled: false },
    revocation: { enabled: false },
    registration: { enabled: false },
  },
  clientBasedCORS: () => false,
  renderError: async (ctx, out) => { ctx.type = 'json'; ctx.body = out; },
});
provider.proxy = false;
provider.on('server_error', (_ctx, err) => process.stderr.write(`server_error: ${err?.message}\n`));

const server = createServer(provider.callback());
server.keepAliveTimeout = 65_000;
server.listen(PORT, HOST, () => process.stdout.write(`oidc-provider introspection peer ready ${ISSUER}\n`));
const stop = () => server.close(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
