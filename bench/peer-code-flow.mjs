#!/usr/bin/env node
// The peer of bench/code-flow.sh: panva/oidc-provider (the shared harness's copy, 9.13.3) set up
// for the OpenID Connect authorization code flow, with a minimal sign-in + consent implementation
// of its own (oidc-provider ships none for production; devInteractions is off).
//
// What a browser goes through here, as on Latchkey: the authorization request, a sign-in page, a
// password POST, a consent page, an Allow POST, then the redirect with the code; the relying party
// then redeems the code at /token (client_secret_basic, PKCE S256) and gets an ID token (RS256,
// oidc-provider's default, as Latchkey's). oidc-provider's interactions redirect back to /auth
// between the steps (its design), so a browser makes 7 requests here where it makes 3 on Latchkey.
//
// Equal work: the password is checked with scrypt N=2^14, r=8, p=1, 32-byte key, 16-byte salt —
// the same algorithm and cost as Latchkey (src/core/crypto.ts) — and, as Latchkey does on a
// one- or two-core machine (src/core/password-hashing.ts), at most one scrypt runs at a time.
// An unknown user name is checked against a dummy hash, as Latchkey does.
//
// Storage: oidc-provider's in-memory adapter (a process-local LRU of 1000 entries): sessions,
// interactions, grants, codes and access tokens are not durable. Latchkey commits them to SQLite.
//
// env: PORT (default 3910, bound to 127.0.0.1), OIDC_PROVIDER_DIR (a folder whose node_modules holds
//      oidc-provider; default: the harness copy's peer-oidc-provider), BENCH_CLIENT_ID,
//      BENCH_CLIENT_SECRET, BENCH_REDIRECT_URI, BENCH_USER, BENCH_PASSWORD,
//      BENCH_REFRESH=1 (the client may also use refresh_token; offline_access gives a rotating refresh token).
import { createServer } from 'node:http';
import { generateKeyPairSync, randomBytes, scrypt as scryptCb, timingSafeEqual } from 'node:crypto';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const PORT = Number(process.env.PORT || 3910);
const HOST = '127.0.0.1';
const ISSUER = `http://${HOST}:${PORT}`;
const CLIENT_ID = process.env.BENCH_CLIENT_ID || 'bench-rp';
const CLIENT_SECRET = process.env.BENCH_CLIENT_SECRET || 'bench-rp-secret-0123456789abcdef';
const REDIRECT_URI = process.env.BENCH_REDIRECT_URI || 'http://127.0.0.1:4999/callback';
const USER = process.env.BENCH_USER || 'bench-user';
const PASSWORD = process.env.BENCH_PASSWORD || 'bench-user-password-0123';
const PROVIDER_DIR = process.env.OIDC_PROVIDER_DIR;
const REFRESH = process.env.BENCH_REFRESH === '1';
if (!PROVIDER_DIR) throw new Error('OIDC_PROVIDER_DIR must name the folder whose node_modules holds oidc-provider');

// oidc-provider prints NOTICE/WARNING lines (and "Unsupported runtime" on Node 20); silence them.
for (const m of ['info', 'warn', 'log', 'debug']) {
  const orig = console[m].bind(console);
  console[m] = (...args) => {
    if (typeof args[0] === 'string' && args[0].startsWith('oidc-provider ')) return;
    orig(...args);
  };
}
const { default: Provider } = await import(pathToFileURL(join(PROVIDER_DIR, 'node_modules', 'oidc-provider', 'lib', 'index.js')).href);

// ---- passwords: Latchkey's scrypt parameters, one at a time -----------------------------------
const SCRYPT = { N: 16384, r: 8, p: 1, keylen: 32 };
const scrypt = (password, salt) =>
  new Promise((resolve, reject) =>
    scryptCb(password, salt, SCRYPT.keylen, { N: SCRYPT.N, r: SCRYPT.r, p: SCRYPT.p, maxmem: 64 * 1024 * 1024 }, (e, k) => (e ? reject(e) : resolve(k))),
  );
let running = false;
const waiting = [];
async function oneAtATime(work) {
  if (running) await new Promise((resolve) => waiting.push(resolve));
  else running = true;
  try {
    return await work();
  } finally {
    const next = waiting.shift();
    if (next === undefined) running = false;
    else next();
  }
}
async function hashPassword(password) {
  const salt = randomBytes(16);
  return { salt, key: await scrypt(password, salt) };
}
const users = new Map([[USER, { accountId: 'bench-account-1', hash: await hashPassword(PASSWORD) }]]);
const dummy = await hashPassword(randomBytes(32).toString('base64url'));
async function checkPassword(userName, password) {
  const user = users.get(userName);
  const stored = user?.hash ?? dummy;
  const key = await oneAtATime(() => scrypt(password, stored.salt));
  return timingSafeEqual(key, stored.key) && user !== undefined ? user : undefined;
}
const accounts = new Map([...users.values()].map((u) => [u.accountId, u]));

// ---- the provider ------------------------------------------------------------------------------
const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' });
const provider = new Provider(ISSUER, {
  clients: [{
    client_id: CLIENT_ID,
    client_secret: CLIENT_SECRET,
    grant_types: REFRESH ? ['authorization_code', 'refresh_token'] : ['authorization_code'],
    response_types: ['code'],
    redirect_uris: [REDIRECT_URI],
    token_endpoint_auth_method: 'client_secret_basic',
  }],
  jwks: { keys: [{ ...rsa, kid: 'rs256-bench', alg: 'RS256', use: 'sig' }] },
  cookies: { keys: [randomBytes(32).toString('base64url')] },
  findAccount: async (_ctx, sub) => (accounts.has(sub) ? { accountId: sub, claims: async () => ({ sub }) } : undefined),
  interactions: { url: async (_ctx, interaction) => `/interaction/${interaction.uid}` },
  pkce: { required: () => true },
  features: {
    devInteractions: { enabled: false },
    rpInitiatedLogout: { enabled: false },
    userinfo: { enabled: false },
    introspection: { enabled: false },
    revocation: { enabled: false },
    registration: { enabled: false },
  },
  // As the Latchkey application: authorization_code only, no refresh token; codes live 60 s,
  // access tokens 30 min (Latchkey's default lifespan), ID tokens at most an hour.
  // BENCH_REFRESH=1 (bench/refresh.mjs): refresh tokens for scope offline_access (requested with
  // prompt=consent, oidc-provider's rule), rotated on every use as Latchkey's always are.
  ...(REFRESH ? { rotateRefreshToken: true } : { issueRefreshToken: async () => false }),
  ttl: { AuthorizationCode: 60, AccessToken: 1800, IdToken: 3600, Interaction: 600, Session: 8 * 3600, Grant: 14 * 86400, RefreshToken: 14 * 86400 },
  clientBasedCORS: () => false,
  renderError: async (ctx, out) => { ctx.type = 'json'; ctx.body = out; },
});
provider.proxy = false;
provider.on('server_error', (_ctx, err) => process.stderr.write(`server_error: ${err?.message}\n`));

// ---- the interaction pages: sign-in, then consent -----------------------------------------------
const escapeHtml = (s) => String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);
const page = (title, body) => `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title></head><body><main><h1>${escapeHtml(title)}</h1>${body}</main></body></html>`;
function send(res, status, html) {
  res.writeHead(status, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store', 'x-frame-options': 'DENY' });
  res.end(html);
}
function readForm(req) {
  return new Promise((resolve, reject) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk) => {
      body += chunk;
      if (body.length > 16384) reject(new Error('body too large'));
    });
    req.on('end', () => resolve(new URLSearchParams(body)));
    req.on('error', reject);
  });
}

async function interaction(req, res, uid, action) {
  const details = await provider.interactionDetails(req, res);
  if (details.uid !== uid) return send(res, 400, page('Error', '<p>Unknown interaction.</p>'));
  const client = await provider.Client.find(details.params.client_id);
  const name = client?.clientName ?? details.params.client_id;
  if (req.method === 'GET') {
    if (details.prompt.name === 'login') {
      return send(res, 200, page(`Sign in to ${name}`,
        `<form method="post" action="/interaction/${escapeHtml(uid)}/login"><label>User name <input name="username" autocomplete="username"></label>` +
        `<label>Password <input type="password" name="password" autocomplete="current-password"></label><button type="submit">Sign in</button></form>`));
    }
    const scopes = String(details.params.scope ?? '').split(' ').filter(Boolean);
    return send(res, 200, page(`Allow ${name} to access your account?`,
      `<ul>${scopes.map((s) => `<li>${escapeHtml(s)}</li>`).join('')}</ul>` +
      `<form method="post" action="/interaction/${escapeHtml(uid)}/confirm"><button name="decision" value="deny">Deny</button><button name="decision" value="allow">Allow</button></form>`));
  }
  const form = await readForm(req);
  if (action === 'login' && details.prompt.name === 'login') {
    const user = await checkPassword(form.get('username') ?? '', form.get('password') ?? '');
    if (user === undefined) return send(res, 200, page(`Sign in to ${name}`, '<p>The user name or password is wrong.</p>'));
    return provider.interactionFinished(req, res, { login: { accountId: user.accountId } }, { mergeWithLastSubmission: false });
  }
  if (action === 'confirm' && details.prompt.name === 'consent') {
    if (form.get('decision') !== 'allow') {
      return provider.interactionFinished(req, res, { error: 'access_denied', error_description: 'The user denied the request' }, { mergeWithLastSubmission: false });
    }
    const { prompt: { details: missing }, params, session } = details;
    const grant = details.grantId ? await provider.Grant.find(details.grantId) : new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
    if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
    if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
    if (missing.missingResourceScopes) for (const [indicator, scopes] of Object.entries(missing.missingResourceScopes)) grant.addResourceScope(indicator, scopes.join(' '));
    const grantId = await grant.save();
    return provider.interactionFinished(req, res, { consent: details.grantId ? {} : { grantId } }, { mergeWithLastSubmission: true });
  }
  return send(res, 400, page('Error', '<p>Unexpected step.</p>'));
}

const callback = provider.callback();
const INTERACTION = /^\/interaction\/([A-Za-z0-9_-]+)(?:\/(login|confirm))?$/;
const server = createServer((req, res) => {
  const m = INTERACTION.exec(req.url ?? '');
  if (m === null) return callback(req, res);
  const action = m[2];
  if ((req.method === 'GET' && action !== undefined) || (req.method === 'POST' && action === undefined) || (req.method !== 'GET' && req.method !== 'POST')) {
    return send(res, 405, page('Error', '<p>Method not allowed.</p>'));
  }
  interaction(req, res, m[1], action).catch((err) => {
    if (!res.headersSent) send(res, 400, page('Error', `<p>${escapeHtml(err?.name ?? 'Error')}</p>`));
    else res.end();
  });
});
server.keepAliveTimeout = 65_000;
server.listen(PORT, HOST, () => {
  process.stdout.write(`oidc-provider code-flow peer ready ${ISSUER} client=${CLIENT_ID}\n`);
});
const stop = () => server.close(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
