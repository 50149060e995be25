#!/usr/bin/env node
// Load driver of bench/code-flow.sh: the OpenID Connect authorization code flow end to end, as many
// fresh browsers at once, against each target in turn (round-robin) for ROUNDS rounds.
//
// One flow = a new cookie jar (no session reuse) → GET the authorization URL (response_type=code,
// scope=openid, state, nonce, PKCE S256) → follow the server's redirects → the sign-in page →
// POST user name + password → the consent page → POST Allow → the redirect to redirect_uri with
// code, state and iss → POST the token request (client_secret_basic, code_verifier) → the answer
// must have an access_token and an id_token. Every flow checks state, iss and the token response;
// the first flow of every target and of every round also verifies the ID token (signature against
// the target's JWKS, iss, aud, exp, nonce, at_hash).
//
// Usage: node bench/code-flow.mjs <targets.json>   (written by bench/code-flow.sh)
//   targets.json: {"rounds","duration","warmup","concurrency","results","targets":[{label,issuer,
//   authorizeUrl,tokenUrl,jwksUrl,clientId,clientSecret,redirectUri,userName,password}]}
// Exit code: 0 when every flow succeeded, 1 when one failed (the first failure is printed).
import { createHash, randomBytes } from 'node:crypto';
import { appendFileSync, readFileSync } from 'node:fs';
import { createLocalJWKSet, jwtVerify } from 'jose';

const config = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const { rounds, duration, warmup, concurrency, results, targets } = config;

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
const basic = (id, secret) => `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`;
class FlowError extends Error {}
const fail = (step, detail) => {
  throw new FlowError(`${step}: ${String(detail).slice(0, 800)}`);
};

/** One flow in a fresh browser; returns the token response (and what was sent, for verification). */
async function flow(t) {
  const browser = new Browser();
  const verifier = b64url(randomBytes(32));
  const state = b64url(randomBytes(16));
  const nonce = b64url(randomBytes(16));
  const authorize = new URL(t.authorizeUrl);
  for (const [k, v] of Object.entries({
    response_type: 'code', client_id: t.clientId, redirect_uri: t.redirectUri, scope: 'openid', state, nonce,
    code_challenge: b64url(createHash('sha256').update(verifier).digest()), code_challenge_method: 'S256',
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
async function verifyIdToken(t, { tokens, nonce }) {
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
function cpuMs(pid) {
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

/** Runs flows on `concurrency` workers for `seconds`; flows started before the end are finished. */
async function run(t, seconds, verifyFirst) {
  const cpuBefore = cpuMs(t.pid);
  const durations = [];
  let requests = 0;
  let failure;
  let verified = false;
  const started = performance.now();
  const end = started + seconds * 1000;
  const worker = async () => {
    while (failure === undefined && performance.now() < end) {
      const t0 = performance.now();
      try {
        const result = await flow(t);
        if (verifyFirst && !verified) {
          verified = true;
          await verifyIdToken(t, result);
        }
        durations.push(performance.now() - t0);
        requests += result.requests;
      } catch (error) {
        failure ??= error;
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const elapsed = (performance.now() - started) / 1000;
  const cpuAfter = cpuMs(t.pid);
  const measured = cpuBefore !== undefined && cpuAfter !== undefined && durations.length > 0;
  const perFlow = (k) => (measured ? +((cpuAfter[k] - cpuBefore[k]) / durations.length).toFixed(1) : undefined);
  durations.sort((a, b) => a - b);
  const pct = (p) => (durations.length === 0 ? NaN : durations[Math.min(durations.length - 1, Math.ceil((p / 100) * durations.length) - 1)]);
  return {
    flows: durations.length, elapsed_s: +elapsed.toFixed(3), flows_per_s: +(durations.length / elapsed).toFixed(2),
    p50_ms: +pct(50).toFixed(1), p99_ms: +pct(99).toFixed(1), requests_per_flow: durations.length ? +(requests / durations.length).toFixed(1) : 0,
    server_cpu_ms_per_flow: perFlow('process'), event_loop_cpu_ms_per_flow: perFlow('loop'),
    server_cpu_share: measured ? +((cpuAfter.process - cpuBefore.process) / 1000 / elapsed).toFixed(2) : undefined,
    failure: failure === undefined ? undefined : String(failure.message ?? failure),
  };
}

// ---- the run -----------------------------------------------------------------------------------
const med = (a) => [...a].sort((x, y) => x - y)[Math.floor((a.length - 1) / 2)];
let failed = false;
for (const t of targets) {
  try {
    const sample = await flow(t);
    const { header, claims } = await verifyIdToken(t, sample);
    console.log(`${t.label}: sanity flow ok, ${sample.requests} HTTP requests; ID token ${JSON.stringify(header)} ${JSON.stringify(claims)}`);
  } catch (error) {
    console.error(`${t.label}: sanity flow FAILED: ${error.message ?? error}`);
    process.exit(1);
  }
}
const rows = [];
for (let r = 1; r <= rounds && !failed; r++) {
  for (const t of targets) {
    if (warmup > 0) {
      const w = await run(t, warmup, false);
      if (w.failure !== undefined) {
        console.error(`round ${r} ${t.label} warm-up: a flow FAILED: ${w.failure}`);
        failed = true;
        break;
      }
    }
    const m = await run(t, duration, true);
    const row = { kind: 'code-flow', round: r, label: t.label, concurrency, duration_s_requested: duration, warmup_s: warmup, ...m };
    rows.push(row);
    appendFileSync(results, JSON.stringify(row) + '\n');
    console.log(`round ${r} ${t.label.padEnd(14)} ${String(m.flows_per_s).padStart(7)} flows/s  p50 ${m.p50_ms} ms  p99 ${m.p99_ms} ms  (${m.flows} flows, ${m.requests_per_flow} requests each; server CPU ${m.server_cpu_ms_per_flow} ms per flow (event loop ${m.event_loop_cpu_ms_per_flow}), ${m.server_cpu_share} cores)${m.failure ? `  FAILED: ${m.failure}` : ''}`);
    if (m.failure !== undefined) {
      failed = true;
      break;
    }
  }
}

const [ours, peer] = targets.map((t) => rows.filter((row) => row.label === t.label));
if (ours.length > 0 && peer.length > 0) {
  console.log(`\n| target (${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC, ${ours.length} rounds, ${concurrency} flows in flight) | flows/s | p50 ms | p99 ms | server CPU ms per flow (all threads) | event-loop CPU ms per flow | HTTP requests per flow | flows/s per round |`);
  console.log('|:---|---:|---:|---:|---:|---:|---:|:---|');
  for (const [t, rs] of [[targets[0], ours], [targets[1], peer]]) {
    console.log(`| ${t.description ?? t.label} | ${med(rs.map((x) => x.flows_per_s))} | ${med(rs.map((x) => x.p50_ms))} | ${med(rs.map((x) => x.p99_ms))} | ${med(rs.map((x) => x.server_cpu_ms_per_flow ?? NaN))} | ${med(rs.map((x) => x.event_loop_cpu_ms_per_flow ?? NaN))} | ${rs[0].requests_per_flow} | ${rs.map((x) => x.flows_per_s).join(' / ')} |`);
  }
  const perRound = ours.slice(0, peer.length).map((o, i) => (o.flows_per_s / peer[i].flows_per_s).toFixed(2));
  const overall = med(ours.map((x) => x.flows_per_s)) / med(peer.map((x) => x.flows_per_s));
  console.log(`\n${targets[0].label} / ${targets[1].label}: ${overall.toFixed(2)}x overall (medians), per round ${perRound.map((x) => `${x}x`).join(', ')}   (raw: ${results})`);
  for (const [key, what] of [['server_cpu_ms_per_flow', 'server CPU per flow (all threads)'], ['event_loop_cpu_ms_per_flow', 'event-loop CPU per flow (all but the password hash)']]) {
    const ratio = med(peer.map((x) => x[key] ?? NaN)) / med(ours.map((x) => x[key] ?? NaN));
    if (Number.isFinite(ratio)) console.log(`${what}, ${targets[1].label} / ${targets[0].label}: ${ratio.toFixed(2)}x (per round ${ours.slice(0, peer.length).map((o, i) => `${(peer[i][key] / o[key]).toFixed(2)}x`).join(', ')})`);
  }
}
process.exit(failed ? 1 : 0);
