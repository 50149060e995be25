/**
 * Caller answers that leak nothing (issue 14 item 2, docs/security.md "Answers that tell nothing"):
 * every refusal a caller can provoke without valid credentials is byte-identical — status, headers
 * (all but X-Request-Id and Date) and body — and costs the same work, whether or not the client id or
 * user name exists, is inactive or locked. One test per pair and surface: the token endpoint's client
 * authentication (client_secret_basic, client_secret_post, client id only, private_key_jwt, the JWT
 * bearer grant's assertion), introspection and revocation, the password grant, the sign-in page, the
 * console sign-in, HTTP Basic on a hosted API and the admin API's session cookie.
 *
 * "The same work" is counted, never timed: password hashes (the instance's PasswordHasher), client
 * secret comparisons and hashes (CLIENT_SECRET_WORK), signature verifications (WebCrypto's
 * subtle.verify, which jose uses). The administrator still tells the cases apart: each pair's
 * refusals carry different reason codes.
 *
 * HTML pages carry a fresh CSP nonce per answer (a random value by design), and echo the user
 * name typed; both are masked, and the names of a pair are of equal length.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { CLIENT_ASSERTION_TYPE } from '../src/assertions/assertion.js';
import { CLIENT_SECRET_WORK } from '../src/client-auth/authenticate.js';
import { JWT_BEARER_GRANT } from '../src/grants/grant-type.js';
import { createApplication } from '../src/registry/applications.js';
import { ADMIN_ROLE } from '../src/registry/scopes.js';
import { setProperty } from '../src/registry/settings.js';
import { createUser, updateUser } from '../src/registry/users.js';
import { consoleSignIn } from './helpers/admin.js';
import { apiCall, FIXTURE_APIS } from './helpers/api.js';
import { authorizeUrl, codeFixture, pkcePair, requestParams, type CodeFixture } from './helpers/authorize-flow.js';
import { Browser, formFor, type Form } from './helpers/browser.js';
import { generateTestKey, jwksOf, signAssertion, type IdpKey } from './helpers/idp-server.js';
import { ManualClock, refreshCache, registryDeps, tokenRequest, type TokenRequest } from './helpers/oauth.js';
import { startTestServer, type TestServer } from './helpers/server.js';

const PW = 'callers-test-password-1';
const THRESHOLD = 'latchkey.password.lockout.threshold';
const USER_THRESHOLD = 'latchkey.password.lockout.user_threshold';

interface Reply {
  readonly status: number;
  readonly headers: Headers;
  readonly text: string;
}

/** What a caller sees of an answer, with what differs per request by design masked. */
interface Answer {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: string;
}

/** The work an answer cost, counted. */
interface Work {
  readonly passwordHashes: number;
  readonly secretComparisons: number;
  readonly secretHashes: number;
  readonly signatureChecks: number;
}

interface Measured {
  readonly answer: Answer;
  readonly work: Work;
  readonly reason: string | undefined;
  readonly requestId: string;
}

const clock = new ManualClock();
let server: TestServer;
let fx: CodeFixture;
const apps: Record<string, { clientId: string; secret: string }> = {};
let signer: IdpKey;
let stranger: IdpKey;
let counters = { passwordHashes: 0, signatureChecks: 0 };
let restoreVerify: (() => void) | undefined;

function answerOf(res: Reply, typedName?: string): Answer {
  const requestId = res.headers.get('x-request-id') ?? '';
  const nonces = [...(res.headers.get('content-security-policy') ?? '').matchAll(/'nonce-([^']+)'/g)].map((m) => m[1] as string);
  const mask = (text: string): string => {
    let t = requestId === '' ? text : text.replaceAll(requestId, '<request-id>');
    for (const n of nonces) t = t.replaceAll(n, '<nonce>');
    return t;
  };
  const headers: Record<string, string> = {};
  for (const [name, value] of res.headers) if (name !== 'x-request-id' && name !== 'date') headers[name] = mask(value);
  let body = mask(res.text);
  if (typedName !== undefined) body = body.replace(`name="username" value="${typedName}"`, 'name="username" value="<typed name>"');
  return { status: res.status, headers, body };
}

function work(): Work {
  return { passwordHashes: counters.passwordHashes, secretComparisons: CLIENT_SECRET_WORK.compared, secretHashes: CLIENT_SECRET_WORK.hashed, signatureChecks: counters.signatureChecks };
}

const minus = (a: Work, b: Work): Work => ({
  passwordHashes: a.passwordHashes - b.passwordHashes,
  secretComparisons: a.secretComparisons - b.secretComparisons,
  secretHashes: a.secretHashes - b.secretHashes,
  signatureChecks: a.signatureChecks - b.signatureChecks,
});

/** Sends one request and measures its answer, its work and the reason recorded for the administrator. */
async function measure(send: () => Promise<Reply>, typedName?: string): Promise<Measured> {
  const before = work();
  const res = await send();
  const spent = minus(work(), before);
  const requestId = res.headers.get('x-request-id') ?? '';
  const refusal = requestId === '' ? undefined : await server.latchkey.storage.refusals.byRequestId(requestId);
  return { answer: answerOf(res, typedName), work: spent, reason: refusal?.reason, requestId };
}

/** The pair (or more) answered byte for byte the same, after the same work, with the reasons the administrator sees. */
function assertSame(cases: Record<string, Measured>, reasons: Record<string, string>, expectedWork?: Partial<Work>): void {
  const [first, ...rest] = Object.entries(cases);
  assert.ok(first !== undefined);
  for (const [name, m] of rest) {
    assert.deepEqual(m.answer, first[1].answer, `${name} is answered differently from ${first[0]}`);
    assert.deepEqual(m.work, first[1].work, `${name} cost different work from ${first[0]}`);
  }
  if (expectedWork !== undefined) for (const [key, n] of Object.entries(expectedWork)) assert.equal(first[1].work[key as keyof Work], n, `${key}: ${JSON.stringify(first[1].work)}`);
  assert.deepEqual(Object.fromEntries(Object.entries(cases).map(([name, m]) => [name, m.reason])), reasons);
}

const post = (req: TokenRequest) => tokenRequest(server.url, req);
const basicOf = (key: string) => [apps[key]!.clientId, apps[key]!.secret] as const;

async function user(userName: string, active = true): Promise<void> {
  await createUser(registryDeps(server, clock), { userName, password: PW, active });
}

/**
 * After registry writes: the cache reloaded, the confidential client's secret verified once more (a
 * cleared cache forgets it, and its first use then hashes), and a second passed, in which refusals
 * re-check the cache (registry/fresh-cache.ts), so each answer below is decided once.
 */
async function settle(): Promise<void> {
  await refreshCache(server);
  assert.equal((await post({ form: { grant_type: 'client_credentials' }, basic: basicOf('conf') })).status, 200);
  await sleep(1_100);
}

before(async () => {
  server = await startTestServer({ clock, apisDir: FIXTURE_APIS });
  const hasher = server.latchkey.passwordHasher;
  const verifyPassword = hasher.verify.bind(hasher);
  hasher.verify = (password, stored) => {
    counters.passwordHashes++;
    return verifyPassword(password, stored);
  };
  const subtle = globalThis.crypto.subtle;
  const verifySignature = subtle.verify;
  subtle.verify = function countedVerify(this: SubtleCrypto, ...args: Parameters<SubtleCrypto['verify']>) {
    counters.signatureChecks++;
    return verifySignature.apply(this, args);
  } as SubtleCrypto['verify'];
  restoreVerify = () => {
    subtle.verify = verifySignature;
  };
  const deps = registryDeps(server, clock);
  await createUser(deps, { userName: 'svc' });
  await setProperty(deps, 'glide.oauth.inbound.client.credential.grant_type.enabled', 'true');
  signer = await generateTestKey('ES256');
  stranger = await generateTestKey('ES256');
  const make = async (key: string, input: Parameters<typeof createApplication>[1]) => {
    const created = await createApplication(deps, input);
    apps[key] = { clientId: created.application.clientId, secret: created.clientSecret ?? '' };
  };
  await make('conf', { name: 'Confidential', grantTypes: ['client_credentials', 'password'], appUser: 'svc' });
  await make('pub', { name: 'Public', grantTypes: ['password'], public: true });
  await make('signer', { name: 'Signs its assertions', grantTypes: ['client_credentials', JWT_BEARER_GRANT], appUser: 'svc', jwks: jwksOf(signer) });
  await make('introspector', { name: 'Resource server', grantTypes: ['client_credentials'], appUser: 'svc', canIntrospect: true });
  fx = await codeFixture(server, clock);
  await settle();
});

after(async () => {
  restoreVerify?.();
  await server?.close();
});

describe('client authentication at the token endpoint: an unknown client id and a known one', () => {
  it('client_secret_basic: unknown client id, known client with a wrong secret (before and after its secret was verified once)', async () => {
    const cc = (basic: readonly [string, string]) => () => post({ form: { grant_type: 'client_credentials' }, basic });
    const unknown = await measure(cc(['no-such-client-0000000000000000', 'lk_cs_not-a-secret']));
    const wrong = await measure(cc([apps.conf!.clientId, 'lk_cs_not-a-secret']));
    assertSame({ unknown, wrong }, { unknown: 'client_auth.unknown_client', wrong: 'client_auth.secret_mismatch' }, { secretComparisons: 1, secretHashes: 1 });
    assert.equal(unknown.answer.status, 401);
    assert.equal(unknown.answer.headers['www-authenticate'], 'Basic realm="latchkey", charset="UTF-8"');
    // A success remembers the verified secret; a wrong one still costs a comparison and a hash.
    assert.equal((await cc(basicOf('conf'))()).status, 200);
    const wrongAfter = await measure(cc([apps.conf!.clientId, 'lk_cs_not-a-secret']));
    const unknownAfter = await measure(cc(['no-such-client-0000000000000001', 'lk_cs_not-a-secret']));
    assertSame({ unknown, wrongAfter, unknownAfter }, { unknown: 'client_auth.unknown_client', wrongAfter: 'client_auth.secret_mismatch', unknownAfter: 'client_auth.unknown_client' });
  });

  it('client_secret_post: unknown client id, known client with a wrong secret', async () => {
    const cc = (clientId: string) => () => post({ form: { grant_type: 'client_credentials', client_id: clientId, client_secret: 'lk_cs_not-a-secret' } });
    const unknown = await measure(cc('no-such-client-0000000000000002'));
    const wrong = await measure(cc(apps.conf!.clientId));
    assertSame({ unknown, wrong }, { unknown: 'client_auth.unknown_client', wrong: 'client_auth.secret_mismatch' }, { secretComparisons: 1, secretHashes: 1 });
  });

  it('a client id alone: unknown, and a confidential application (which needs its secret)', async () => {
    const ropc = (clientId: string) => () => post({ form: { grant_type: 'password', username: 'svc', password: PW, client_id: clientId } });
    const unknown = await measure(ropc('no-such-client-0000000000000003'));
    const confidential = await measure(ropc(apps.conf!.clientId));
    assertSame({ unknown, confidential }, { unknown: 'client_auth.unknown_client', confidential: 'client_auth.secret_required' }, { secretHashes: 0, passwordHashes: 0 });
  });

  it('a secret for an unknown client id, and for a public application (which has none)', async () => {
    const ropc = (clientId: string) => () => post({ form: { grant_type: 'password', username: 'svc', password: PW, client_id: clientId, client_secret: 'lk_cs_made-up' } });
    const unknown = await measure(ropc('no-such-client-0000000000000004'));
    const publicApp = await measure(ropc(apps.pub!.clientId));
    assertSame({ unknown, publicApp }, { unknown: 'client_auth.unknown_client', publicApp: 'client_auth.public_client_secret' }, { secretComparisons: 1, secretHashes: 1 });
  });

  it('private_key_jwt: an unknown iss/sub, a known client with a bad signature, and with a key it never registered', async () => {
    const aud = `${server.url}/oauth/token`;
    const assertion = (clientId: string, key: IdpKey, kid?: string) => signAssertion(key, { iss: clientId, sub: clientId, aud }, kid === undefined ? {} : { kid }, clock.now());
    const send = (jwt: string) => () => post({ path: '/oauth/token', form: { grant_type: 'client_credentials', client_assertion_type: CLIENT_ASSERTION_TYPE, client_assertion: jwt } });
    const unknown = await measure(send(await assertion('no-such-client-0000000000000005', stranger, signer.kid)));
    const badSignature = await measure(send(await assertion(apps.signer!.clientId, stranger, signer.kid)));
    const unknownKey = await measure(send(await assertion(apps.signer!.clientId, stranger)));
    assertSame(
      { unknown, badSignature, unknownKey },
      { unknown: 'client_auth.unknown_client', badSignature: 'assertion.bad_signature', unknownKey: 'assertion.unknown_key' },
      { signatureChecks: 1 },
    );
    // An algorithm that is never accepted is refused before any lookup: the same for both.
    const hmac = (clientId: string) => signAssertion(signer, { iss: clientId, sub: clientId, aud }, { hmacSecret: 'a-shared-secret-of-32-characters!' }, clock.now());
    const unknownHs = await measure(send(await hmac('no-such-client-0000000000000006')));
    const knownHs = await measure(send(await hmac(apps.signer!.clientId)));
    assertSame({ unknownHs, knownHs }, { unknownHs: 'assertion.algorithm_not_allowed', knownHs: 'assertion.algorithm_not_allowed' }, { signatureChecks: 0 });
  });

  it("the JWT bearer grant's assertion: an unknown iss, and a known client's with a bad signature", async () => {
    const aud = `${server.url}/oauth/token`;
    const grant = async (iss: string) => {
      const jwt = await signAssertion(stranger, { iss, sub: 'svc', aud }, { kid: signer.kid }, clock.now());
      return () => post({ path: '/oauth/token', form: { grant_type: JWT_BEARER_GRANT, assertion: jwt } });
    };
    const unknown = await measure(await grant('no-such-client-0000000000000007'));
    const badSignature = await measure(await grant(apps.signer!.clientId));
    assertSame({ unknown, badSignature }, { unknown: 'assertion.unknown_issuer', badSignature: 'assertion.bad_signature' }, { signatureChecks: 1 });
  });

  it('introspection and revocation: an unknown client id and a known client with a wrong secret', async () => {
    for (const path of ['/oauth/introspect', '/oauth/revoke']) {
      const call = (clientId: string) => () => post({ path, form: { token: 'lk_at_whatever' }, basic: [clientId, 'lk_cs_not-a-secret'] });
      const unknown = await measure(call('no-such-client-0000000000000008'));
      const wrong = await measure(call(apps.introspector!.clientId));
      assertSame({ unknown, wrong }, { unknown: 'client_auth.unknown_client', wrong: 'client_auth.secret_mismatch' }, { secretComparisons: 1, secretHashes: 1 });
    }
  });
});

describe('the password grant: unknown, wrong password, inactive, locked', () => {
  const ropc = (from: string, username: string, password: string) => () =>
    post({ form: { grant_type: 'password', username, password }, basic: basicOf('conf'), from });

  it('an unknown user name, a wrong password, and an inactive user with its right password', async () => {
    await user('pgwp1');
    await user('pgin1', false);
    await settle();
    const unknown = await measure(ropc('127.0.0.71', 'pgun1', 'not-the-password'));
    const wrong = await measure(ropc('127.0.0.71', 'pgwp1', 'not-the-password'));
    const inactive = await measure(ropc('127.0.0.71', 'pgin1', PW));
    const inactiveWrong = await measure(ropc('127.0.0.71', 'pgin1', 'not-the-password'));
    assertSame(
      { unknown, wrong, inactive, inactiveWrong },
      { unknown: 'user.bad_credentials', wrong: 'user.bad_credentials', inactive: 'user.inactive', inactiveWrong: 'user.bad_credentials' },
      { passwordHashes: 1 },
    );
    assert.equal(JSON.parse(unknown.answer.body).error, 'invalid_grant');
  });

  it('a locked user and a locked unknown name (and a locked inactive user): the same answers at every step', async () => {
    await user('pglk1');
    await user('pglk3', false);
    await settle();
    const from = '127.0.0.72';
    // Five failures lock the name for this source (threshold 5); then even the right password is refused.
    const steps = (name: string) => [...Array.from({ length: 5 }, (_, i) => `wrong-${i}`), PW, PW].map((pw) => ropc(from, name, pw));
    for (const [i, [a, b, c]] of zip(steps('pglk1'), steps('pglk2'), steps('pglk3')).entries()) {
      const existing = await measure(a);
      const unknown = await measure(b);
      const inactive = await measure(c);
      const locked = i >= 5;
      const reason = locked ? 'user.locked_out' : 'user.bad_credentials';
      assertSame({ existing, unknown, inactive }, { existing: reason, unknown: reason, inactive: reason }, { passwordHashes: locked ? 0 : 1 });
      if (locked) assert.equal(existing.answer.headers['retry-after'], '1');
    }
  });

  it('while the per-user limit holds, a source the user signed in from (a shared proxy) tells an existing name from an unknown one no more', async () => {
    await server.latchkey.storage.properties.set(THRESHOLD, '2', clock.now());
    await server.latchkey.storage.properties.set(USER_THRESHOLD, '4', clock.now());
    await user('pgul1');
    await settle();
    try {
      const proxy = '127.0.0.73';
      // The user signs in through the proxy: the proxy's address becomes a known source of pgul1.
      assert.equal((await ropc(proxy, 'pgul1', PW)()).status, 200);
      // A guesser from two other addresses, two failures each, on both names: the per-user limit (4) holds for both.
      for (const name of ['pgul1', 'pgul2']) for (const from of ['127.0.0.74', '127.0.0.75']) for (let i = 0; i < 2; i++) await ropc(from, name, `guess-${i}`)();
      // Through the proxy: a wrong password for the existing name and for the unknown one.
      const existing = await measure(ropc(proxy, 'pgul1', 'guess-from-the-proxy'));
      const unknown = await measure(ropc(proxy, 'pgul2', 'guess-from-the-proxy'));
      assertSame({ existing, unknown }, { existing: 'user.locked_out', unknown: 'user.locked_out' }, { passwordHashes: 1 });
      assert.match(JSON.parse(existing.answer.body).error_description, /^Too many failed attempts\. Try again in \d+ seconds\.$/);
      // From a new address, the right password is answered as a guess is.
      const right = await measure(ropc('127.0.0.76', 'pgul1', PW));
      const guess = await measure(ropc('127.0.0.77', 'pgul2', PW));
      assertSame({ right, guess }, { right: 'user.locked_out', guess: 'user.locked_out' }, { passwordHashes: 1 });
      // The user, through the proxy, with the right password, gets in.
      assert.equal((await ropc(proxy, 'pgul1', PW)()).status, 200);
    } finally {
      await server.latchkey.storage.properties.set(USER_THRESHOLD, '50', clock.now());
      await server.latchkey.storage.properties.set(THRESHOLD, '5', clock.now());
      await settle();
    }
  });
});

function zip<A, B, C>(a: readonly A[], b: readonly B[], c: readonly C[]): Array<[A, B, C]> {
  return a.map((x, i) => [x, b[i] as B, c[i] as C]);
}

describe('the sign-in page and the console sign-in', () => {
  /** One browser on the sign-in page of a valid authorization request; each answer is the same form posted again. */
  async function signInForm(from: string, start = () => Promise.resolve(authorizeUrl(server, requestParams(fx, { challenge: pkcePair().challenge })))): Promise<(name: string, password: string) => () => Promise<Reply>> {
    const browser = new Browser(server.url, from);
    const url = await start();
    const page = await browser.get(url);
    assert.equal(page.status, 200, page.text.slice(0, 300));
    const form: Form = formFor(page, 'sign_in');
    return (name, password) => () => browser.submit(url, form, { username: name, password });
  }

  it('the sign-in page: an unknown user name, a wrong password, an inactive user with its right password', async () => {
    await user('siwp1');
    await user('siin1', false);
    await settle();
    const submit = await signInForm('127.0.0.81');
    const unknown = await measure(submit('siun1', 'not-the-password'), 'siun1');
    const wrong = await measure(submit('siwp1', 'not-the-password'), 'siwp1');
    const inactive = await measure(submit('siin1', PW), 'siin1');
    assertSame({ unknown, wrong, inactive }, { unknown: 'user.bad_credentials', wrong: 'user.bad_credentials', inactive: 'user.inactive' }, { passwordHashes: 1 });
    assert.equal(unknown.answer.status, 400);
    assert.match(unknown.answer.body, /The user name or password is wrong\./);
  });

  it('the sign-in page: a locked user and a locked unknown name', async () => {
    await user('silk1');
    await settle();
    const submit = await signInForm('127.0.0.82');
    for (let i = 0; i < 7; i++) {
      const pw = i < 5 ? `wrong-${i}` : PW;
      const existing = await measure(submit('silk1', pw), 'silk1');
      const unknown = await measure(submit('silk2', pw), 'silk2');
      const reason = i >= 5 ? 'user.locked_out' : 'user.bad_credentials';
      assertSame({ existing, unknown }, { existing: reason, unknown: reason }, { passwordHashes: i >= 5 ? 0 : 1 });
    }
  });

  it('the console sign-in: an unknown user name, a wrong password, an inactive user with its right password', async () => {
    await user('cswp1');
    await user('csin1', false);
    await updateUser(registryDeps(server, clock), 'cswp1', { roles: [ADMIN_ROLE] });
    await settle();
    const consoleLogin = async () => {
      const login = await new Browser(server.url).get('/console/login');
      assert.equal(login.status, 303);
      return new URL(login.location ?? '', server.url).toString();
    };
    const submit = await signInForm('127.0.0.83', consoleLogin);
    const unknown = await measure(submit('csun1', 'not-the-password'), 'csun1');
    const wrong = await measure(submit('cswp1', 'not-the-password'), 'cswp1');
    const inactive = await measure(submit('csin1', PW), 'csin1');
    assertSame({ unknown, wrong, inactive }, { unknown: 'user.bad_credentials', wrong: 'user.bad_credentials', inactive: 'user.inactive' }, { passwordHashes: 1 });
    assert.match(unknown.answer.body, /Sign in to Latchkey Console/);
  });
});

describe('HTTP Basic on a hosted API', () => {
  const basic = (from: string, name: string, password: string) => () => apiCall(server.url, { path: '/api/acme/reports', basic: [name, password], from });

  it('an unknown user name, a wrong password, an inactive user with its right password', async () => {
    await user('bawp1');
    await user('bain1', false);
    await settle();
    assert.equal((await basic('127.0.0.91', 'bawp1', PW)()).status, 200);
    const unknown = await measure(basic('127.0.0.91', 'baun1', 'not-the-password'));
    const wrong = await measure(basic('127.0.0.91', 'bawp1', 'not-the-password'));
    const inactive = await measure(basic('127.0.0.91', 'bain1', PW));
    // API answers show their reason code (detail: "reason …"), so the three share one; the facts tell the administrator.
    assertSame({ unknown, wrong, inactive }, { unknown: 'api.basic_bad_credentials', wrong: 'api.basic_bad_credentials', inactive: 'api.basic_bad_credentials' }, { passwordHashes: 1 });
    assert.equal(unknown.answer.status, 401);
    const facts = async (m: Measured) => (await server.latchkey.storage.refusals.byRequestId(m.requestId))?.facts ?? {};
    assert.deepEqual([(await facts(unknown)).userExists, (await facts(wrong)).userExists, (await facts(inactive)).userActive], [false, true, false]);
  });

  it('a locked user and a locked unknown name', async () => {
    await user('balk1');
    await settle();
    for (let i = 0; i < 7; i++) {
      const pw = i < 5 ? `wrong-${i}` : PW;
      const existing = await measure(basic('127.0.0.92', 'balk1', pw));
      const unknown = await measure(basic('127.0.0.92', 'balk2', pw));
      const reason = i >= 5 ? 'user.locked_out' : 'api.basic_bad_credentials';
      assertSame({ existing, unknown }, { existing: reason, unknown: reason }, { passwordHashes: i >= 5 ? 0 : 1 });
    }
  });
});

describe('the admin API', () => {
  it('a session cookie that names no session, and the session of an account deactivated since', async () => {
    await user('adses');
    await updateUser(registryDeps(server, clock), 'adses', { roles: [ADMIN_ROLE] });
    await settle();
    const { browser, callback } = await consoleSignIn(server, 'adses', PW);
    assert.equal(callback.status, 303, callback.text);
    const cookie = browser.cookies.get('latchkey_console');
    assert.ok(cookie !== undefined, [...browser.cookies.keys()].join(','));
    const call = (value: string) => () => fetch(`${server.url}/admin/api/v1/applications`, { headers: { cookie: `latchkey_console=${value}` } }).then(async (r) => ({ status: r.status, headers: r.headers, text: await r.text() }));
    assert.equal((await call(cookie)()).status, 200);
    // Deactivated in storage, its session left standing (as a change racing the session's end
    // leaves it; the registry's updateUser would end the session too, answered as noSession).
    const stored = await server.latchkey.storage.users.byName('adses');
    assert.ok(stored !== undefined);
    await server.latchkey.storage.users.update({ ...stored, active: false, updatedAt: clock.now() });
    await settle();
    const deactivated = await measure(call(cookie));
    const noSession = await measure(call('x'.repeat(cookie.length)));
    assertSame({ deactivated, noSession }, { deactivated: 'admin.session_ended', noSession: 'admin.session_ended' });
    assert.equal(deactivated.answer.status, 401);
    const hint = (await server.latchkey.storage.refusals.byRequestId(deactivated.requestId))?.hint ?? '';
    assert.match(hint, /account changed/);
  });
});
