import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { judgeRedirectUri } from '../src/registry/redirect-uris.js';
import { ADMIN_PASSWORD, adminToken, bearerClient, type AdminClient } from './helpers/admin.js';
import { freshDb, type CliDb } from './helpers/diagnostics.js';
import { startTestServer, type TestServer } from './helpers/server.js';

/**
 * Redirect URIs at registration (RFC 6749 §3.1.2, RFC 8252 §7.1, §7.3, §8.3): https; http only on
 * loopback; private-use schemes with a period. Everything else is refused with a message that says
 * what is accepted, from the CLI and from the admin API (which names the field for the console).
 */

const REFUSED: readonly (readonly [string, RegExp])[] = [
  ['javascript:alert(document.cookie)', /uses the scheme javascript:, which a browser runs as script/],
  ['JavaScript:alert(1)', /uses the scheme javascript:/],
  ['data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==', /uses the scheme data:/],
  ['file:///etc/passwd', /uses the scheme file:/],
  ['vbscript:msgbox(1)', /uses the scheme vbscript:/],
  ['blob:https://app.example.com/0b6f', /uses the scheme blob:/],
  ['about:blank', /uses the scheme about:/],
  ['myapp:/callback', /uses the scheme myapp:, which is neither https, http on loopback, nor a private-use scheme with a period \(RFC 8252 §7\.1\)/],
  ['ws://app.example.com/cb', /uses the scheme ws:/],
  ['http://app.example.com/cb', /must use https: http is accepted only on a loopback address/],
  ['http://localhost.evil.example/cb', /must use https/],
  ['http://127.0.0.1.nip.io/cb', /must use https/],
  ['https://user:pw@app.example.com/cb', /must not contain a user name or password/],
  ['https://app.example.com@evil.example/cb', /must not contain a user name or password/],
  ['com.example.app://user@host/cb', /must not contain a user name or password/],
  ['https://app.example.com/cb\r\nSet-Cookie: a=b', /contains a control character \(U\+000D\)/],
  ['https://app.example.com/c\tb', /contains a control character \(U\+0009\)/],
  ['https://app.example.com/cb\u0000', /contains a control character \(U\+0000\)/],
  ['https://app.example.com/cb\u007f', /contains a control character \(U\+007F\)/],
  ['https://app.example.com/cb\u0085', /contains a control character \(U\+0085\)/],
  ['https://app.example.com/cb\u202e', /contains a control character \(U\+202E\)/],
  ['https://app.example.com/c b', /contains whitespace \(U\+0020\)/],
  ['https://app.example.com/c\u00a0b', /contains whitespace \(U\+00A0\)/],
  ['https://app.example.com/cb`id`', /contains the character "`" \(U\+0060\), which must be percent-encoded/],
  ['https://app.example.com/é', /contains the character "é" \(U\+00E9\)/],
  ['https://app.example.com/cb?x=%zz', /"%" that is not followed by two hexadecimal digits/],
  ['https://app.example.com/cb#frag', /must not contain a fragment \(RFC 6749 §3\.1\.2\)/],
  [`https://app.example.com/${'a'.repeat(2000)}`, /is longer than 2000 characters/],
  ['/relative/cb', /is not an absolute URL/],
];

const ACCEPTED = [
  'https://app.example.com/cb',
  "https://app.example.com/cb?next=$(x)&y='z';w",
  'https://q.example.com/cb?tenant=a%20b',
  'http://127.0.0.1:8400/callback',
  'http://[::1]:8400/callback',
  'http://localhost:3000/cb',
  'com.example.app:/callback',
  'com.example.app://callback/path',
  'com.googleusercontent.apps.123-abc:/oauth2redirect',
];

const RULES = /A redirect URI must be https \(https:\/\/app\.example\.com\/callback\), http on a loopback address \(http:\/\/127\.0\.0\.1:8400\/callback; also \[::1\] or localhost\), or a private-use scheme .* \(com\.example\.app:\/callback\)\./;

describe('redirect URIs at registration', () => {
  let dir: string;
  let cli: CliDb;
  let server: TestServer;
  let admin: AdminClient;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'latchkey-redirect-'));
    process.env.LATCHKEY_ADMIN_PASSWORD = ADMIN_PASSWORD;
    ({ cli } = await freshDb(dir, 'redirect'));
    server = await startTestServer();
    admin = bearerClient(server, await adminToken(server, 'admin', ADMIN_PASSWORD));
  });
  after(async () => {
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('the rules (table)', () => {
    for (const [uri] of REFUSED) assert.equal(judgeRedirectUri(uri).ok, false, uri);
    for (const uri of ACCEPTED) assert.deepEqual(judgeRedirectUri(uri), { ok: true }, uri);
  });

  it('CLI: apps create and apps update refuse each, saying what is accepted; nothing is stored', async () => {
    const ok = JSON.parse(await cli.ok(['apps', 'create', '--name', 'Native', '--grants', 'authorization_code', ...ACCEPTED.flatMap((u) => ['--redirect-uri', u]), '--json'])) as { clientId: string; redirectUris: string[] };
    assert.deepEqual(ok.redirectUris, ACCEPTED);
    for (const [uri, problem] of REFUSED) {
      const created = await cli.run(['apps', 'create', '--name', 'Refused', '--grants', 'authorization_code', '--redirect-uri', uri]);
      assert.equal(created.code, 1, `${JSON.stringify(uri)} was accepted`);
      assert.match(created.err, problem, JSON.stringify(uri));
      assert.match(created.err, RULES);
      // The message never carries the raw control characters it refuses.
      assert.doesNotMatch(created.err.trimEnd(), /[\r\t\u0000\u007f\u0085\u202e]/u);
      const updated = await cli.run(['apps', 'update', ok.clientId, '--redirect-uri', 'https://app.example.com/cb', '--redirect-uri', uri]);
      assert.equal(updated.code, 1, JSON.stringify(uri));
      assert.match(updated.err, problem);
    }
    const apps = await cli.json<{ name: string; redirectUris: string[] }[]>(['apps', 'list']);
    assert.deepEqual(apps.filter((a) => a.name === 'Refused'), []);
    assert.deepEqual((await cli.json<{ redirectUris: string[] }>(['apps', 'show', ok.clientId])).redirectUris, ACCEPTED);
  });

  it('admin API: create and change refuse each with 400 and field redirectUris (the console shows it by the field)', async () => {
    const ok = await admin.call('POST', '/applications', { name: 'Web', kind: 'authorization_code', redirectUris: ACCEPTED });
    assert.equal(ok.status, 201, ok.text);
    const id = ok.json.application.clientId as string;
    for (const [uri, problem] of REFUSED) {
      const created = await admin.call('POST', '/applications', { name: 'Refused', kind: 'authorization_code', redirectUris: [uri] });
      assert.equal(created.status, 400, `${JSON.stringify(uri)}: ${created.text}`);
      assert.equal(created.json.error, 'invalid_input');
      assert.equal(created.json.field, 'redirectUris');
      assert.match(created.json.message, problem);
      assert.match(created.json.message, RULES);
      const patched = await admin.call('PATCH', `/applications/${id}`, { redirectUris: ['https://app.example.com/cb', uri] });
      assert.equal(patched.status, 400, JSON.stringify(uri));
      assert.equal(patched.json.field, 'redirectUris');
    }
    const list = await admin.call('GET', '/applications?q=Refused');
    assert.deepEqual(list.json, []);
    assert.deepEqual((await admin.call('GET', `/applications/${id}`)).json.redirectUris, ACCEPTED);
  });
});
