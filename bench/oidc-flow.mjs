// The browser and the OpenID Connect authorization code flow shared by bench/code-flow.mjs and
// bench/refresh.mjs: a minimal cookie-keeping browser, one flow in a fresh browser (sign-in,
// consent, code, token request with PKCE S256), ID token verification, and a process's CPU time.
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createLocalJWKSet, jwtVerify } from 'jose';
// ---- a minimal browser ------------------------------------------------------------------------
const decode = (s) => s.replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
const attr = (tag, name) => {
  const m = new RegExp(`\\s${name}="([^"]*)"`).exec(tag);
  return m === null ? undefined : decode(m[1]);
};
function formsOf(html) {
  const forms = [];
  for (const m of html.matchAll(/<form\b([^>]*)>([\s\S]*?)<\/form>/g)) {
    const inputs = [...m[2].matchAll(/<input\b[^>]*>/g)].map((i) => i[0]);
    const hidden = {};
    for (const tag of inputs) if (attr(tag, 'type') === 'hidden' && attr(tag, 'name') !== undefined) hidden[attr(tag, 'name')] = attr(tag, 'value') ?? '';
    const buttons = [...m[2].matchAll(/<button\b([^>]*)>/g)].map((b) => ({ name: attr(b[1], 'name'), value: attr(b[1], 'value') }));
    forms.push({ action: attr(m[1], 'action') ?? '', method: (attr(m[1], 'method') ?? 'get').toLowerCase(), hidden, buttons, password: inputs.some((t) => attr(t, 'type') === 'password') });
  }
  return forms;
}

class Browser {
  cookies = new Map();
  requests = 0;
  async send(url, { method = 'GET', form, headers = {} } = {}) {
    const h = { ...headers };
    if (this.cookies.size > 0) h.cookie = [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
    let body;
    if (form !== undefined) {
      body = new URLSearchParams(form).toString();
      h['content-type'] = 'application/x-www-form-urlencoded';
    }
    this.requests++;
    const res = await fetch(url, { method, headers: h, body, redirect: 'manual' });
    const text = await res.text();
    for (const line of res.headers.getSetCookie()) {
      const [pair, ...attrs] = line.split(';').map((s) => s.trim());
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq);
      const gone = attrs.some((a) => /^max-age=(0|-)/i.test(a) || (/^expires=/i.test(a) && Date.parse(a.slice(8)) < Date.now()));
      if (gone) this.cookies.delete(name);
      else this.cookies.set(name, pair.slice(eq + 1));
    }
    return { status: res.status, location: res.headers.get('location') ?? undefined, text };
  }
}

const b64url = (buf) => Buffer.from(buf).toString('base64url');
export const basic = (id, secret) => `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`;
export class FlowError extends Error {}
const fail = (step, detail) => {
  throw new FlowError(`${step}: ${String(detail).slice(0, 800)}`);
};

/** One flow in a fresh browser; returns the token response (and what was sent, for verification). */
export async function flow(t) {
  const browser = new Browser();
  const verifier = b64url(randomBytes(32));
  const state = b64url(randomBytes(16));
  const nonce = b64url(randomBytes(16));
  const authorize = new URL(t.authorizeUrl);
  for (const [k, v] of Object.entries({
    response_type: 'code', client_id: t.clientId, redirect_uri: t.redirectUri, scope: t.scope ?? 'openid', state, nonce,
    code_challenge: b64url(createHash('sha256').update(verifier).digest()), code_challenge_method: 'S256', ...(t.extraParams ?? {}),
  })) authorize.searchParams.set(k, v);

  let url = authorize.toString();
  let res = await browser.send(url);
  let signedIn = false;
  let consented = false;
  let callback;
  for (let step = 0; step < 12 && callback === undefined; step++) {
    if (res.status >= 300 && res.status < 400) {
      if (res.location === undefined) fail('redirect', `${res.status} without Location`);
      const next = new URL(res.location, url);
      if (next.toString().startsWith(t.redirectUri)) {
        callback = next;
        break;
      }
      url = next.toString();
      res = await browser.send(url);
      continue;
    }
    if (res.status !== 200) fail(`page ${url}`, `${res.status} ${res.text}`);
    const forms = formsOf(res.text);
    const signIn = forms.find((f) => f.password);
    const consent = forms.find((f) => f.buttons.some((b) => b.value === 'allow'));
    if (signIn !== undefined && !signedIn) {
      signedIn = true;
      url = new URL(signIn.action || url, url).toString();
      res = await browser.send(url, { method: 'POST', form: { ...signIn.hidden, username: t.userName, password: t.password } });
    } else if (consent !== undefined && signedIn && !consented) {
      consented = true;
      const allow = consent.buttons.find((b) => b.value === 'allow');
      url = new URL(consent.action || url, url).toString();
      res = await browser.send(url, { method: 'POST', form: { ...consent.hidden, [allow.name]: 'allow' } });
    } else {
      fail(`page ${url}`, `no ${signedIn ? 'consent' : 'sign-in'} form in: ${res.text}`);
    }
  }
  if (callback === undefined) fail('flow', 'no redirect to the redirect URI');
  if (!signedIn || !consented) fail('flow', `reached the redirect URI without ${signedIn ? 'consent' : 'signing in'}`);
  const q = callback.searchParams;
  if (q.get('error') !== null) fail('authorization response', q.toString());
  if (q.get('state') !== state) fail('authorization response', `state ${q.get('state')} != ${state}`);
  if (q.get('iss') !== t.issuer) fail('authorization response', `iss ${q.get('iss')} != ${t.issuer}`);
  const code = q.get('code');
  if (!code) fail('authorization response', 'no code');

  browser.requests++;
  const tokenRes = await fetch(t.tokenUrl, {
    method: 'POST',
    headers: { authorization: basic(t.clientId, t.clientSecret), 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: t.redirectUri, code_verifier: verifier }).toString(),
  });
  const text = await tokenRes.text();
  if (tokenRes.status !== 200) fail('token', `${tokenRes.status} ${text}`);
  const tokens = JSON.parse(text);
  if (typeof tokens.access_token !== 'string' || typeof tokens.id_token !== 'string' || String(tokens.token_type).toLowerCase() !== 'bearer') fail('token', text);
  return { tokens, nonce, requests: browser.requests };
}

const jwksCache = new Map();
/** Verifies the ID token: signature (target's JWKS), iss, aud, exp/iat, nonce, at_hash, sub. */
export async function verifyIdToken(t, { tokens, nonce }) {
  if (!jwksCache.has(t.jwksUrl)) jwksCache.set(t.jwksUrl, createLocalJWKSet(await (await fetch(t.jwksUrl)).json()));
  const { payload, protectedHeader } = await jwtVerify(tokens.id_token, jwksCache.get(t.jwksUrl), { issuer: t.issuer, audience: t.clientId, algorithms: ['RS256', 'ES256'] });
  if (payload.nonce !== nonce) fail('id_token', `nonce ${payload.nonce} != ${nonce}`);
  if (typeof payload.sub !== 'string' || payload.sub === '') fail('id_token', 'no sub');
  if (protectedHeader.alg !== 'RS256') fail('id_token', `alg ${protectedHeader.alg}`);
  const digest = createHash('sha256').update(tokens.access_token).digest();
  if (payload.at_hash !== undefined && payload.at_hash !== b64url(digest.subarray(0, 16))) fail('id_token', 'at_hash mismatch');
  return { header: protectedHeader, claims: payload };
}

/**
 * CPU time (user + system) the server has used, in ms: the whole process (every thread: the event
 * loop, libuv's pool where scrypt runs, workers, GC helpers) and its main thread alone (the event
 * loop: everything but the password hashing). Undefined without /proc.
 */
export function cpuMs(pid) {
  if (!pid) return undefined;
  // /proc/<pid>/stat: fields 14 and 15 (utime, stime) in clock ticks (100 per second on Linux), after "(comm)".
  const ticks = (file) => {
    const fields = readFileSync(file, 'utf8').replace(/^.*\) /s, '').split(' ');
    return (Number(fields[11]) + Number(fields[12])) * 10;
  };
  try {
    return { process: ticks(`/proc/${pid}/stat`), loop: ticks(`/proc/${pid}/task/${pid}/stat`) };
  } catch {
    return undefined;
  }
}

