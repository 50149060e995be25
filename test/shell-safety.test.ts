import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { commandLine, placeholder, shellWord } from '../src/core/shell.js';
import type { Finding } from '../src/diagnostics/doctor.js';
import { resolveKek } from '../src/keys/kek.js';
import { ADMIN_PASSWORD, adminToken, bearerClient, type AdminClient } from './helpers/admin.js';
import { CliDb, freshDb } from './helpers/diagnostics.js';
import { startTestServer, type TestServer } from './helpers/server.js';
import { HOSTILE, paste } from './helpers/shell.js';

/**
 * Every command Latchkey prints for a person to paste, fed hostile values and run through a real
 * shell with the programs replaced by argv printers: nothing runs, and each value arrives as one
 * word, exactly. (The console shows the admin API's commands verbatim; test/console.test.ts pastes
 * its curl the same way.)
 */

/** Hostile values a scope name may hold (printable ASCII without space, '"' or '\\', RFC 6749 §3.3). */
const SCOPE_HOSTILE = ['$(touch${IFS}pwned)', '`touch${IFS}pwned`', 'a;touch${IFS}pwned', 'a|touch${IFS}pwned', 'a&&touch${IFS}pwned', "it's$(touch${IFS}pwned)"];
/** Redirect URIs the registry accepts that still hold shell syntax: `$`, `(`, `)`, `;`, `&`, `'` are RFC 3986 sub-delims. */
const HOSTILE_HTTPS = "https://app.example.com/cb?next=$(touch$IFS'pwned')&x=1;y='2'";
const HOSTILE_NATIVE = "com.example.app:/cb;$(touch$IFS'pwned')";

/** The text after `prefix` on the line that has it. */
function after_(text: string, prefix: string): string {
  const line = text.split('\n').find((l) => l.includes(prefix));
  assert.ok(line !== undefined, `no line with ${JSON.stringify(prefix)} in:\n${text}`);
  return line.slice(line.indexOf(prefix) + prefix.length);
}

async function assertPastes(command: string, expected: string[][], fill?: Record<string, string>): Promise<void> {
  const r = await paste(command, fill === undefined ? {} : { fill });
  assert.equal(r.pwned, false, `pasting ${command} ran a command it carried`);
  assert.deepEqual(r.calls, expected, `${command}\n${r.stderr}`);
}

describe('shellWord: any value arrives as one word, and nothing runs', () => {
  const values = [...HOSTILE, '', 'plain-word', "'", "''", '\\', '!x', '=cmd', '~root', '*', '?', '[a]', '{a,b}', '#c', 'a b', 'é', '😀', '\r\n', '\t', '\u202e', '\u0085', '\x7f', 'x\x1by', "a'\u200bb"];
  for (const shell of ['bash', 'sh'] as const) {
    it(`through ${shell}`, async () => {
      for (const v of values) {
        // POSIX sh (dash) has no $'…': values with invisible characters only through bash.
        if (shell === 'sh' && /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/u.test(v)) continue;
        const r = await paste(`latchkey ${shellWord(v)}`, { shell });
        assert.equal(r.pwned, false, JSON.stringify(v));
        assert.deepEqual(r.calls, [['latchkey', v]], `${JSON.stringify(v)} as ${shellWord(v)}: ${r.stderr}`);
      }
    });
  }

  it('shows invisible characters as escapes, and leaves placeholders for the operator', () => {
    assert.equal(shellWord('a\r\nb'), "$'a\\x0d\\x0ab'");
    assert.equal(shellWord('\u202eabc'), "$'\\xe2\\x80\\xaeabc'");
    assert.equal(shellWord('safe-word_1.2:3/4@5'), 'safe-word_1.2:3/4@5');
    assert.equal(shellWord('=x'), "'=x'");
    assert.equal(commandLine(['apps', 'update', placeholder('client-id'), '--scopes', '']), "latchkey apps update <client-id> --scopes ''");
  });
});

describe('printed commands carry hostile values safely', () => {
  let dir: string;
  let cli: CliDb;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'latchkey-shell-'));
    process.env.LATCHKEY_ADMIN_PASSWORD = 'admin-password-for-tests';
    delete process.env.LATCHKEY_KEY_ENCRYPTION_KEY;
    delete process.env.LATCHKEY_KEY_ENCRYPTION_KEY_FILE;
    ({ cli } = await freshDb(dir, 'shell'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('CLI: scopes create prints how to allow the scope, quoted', async () => {
    for (const scope of SCOPE_HOSTILE) {
      const out = await cli.ok(['scopes', 'create', scope]);
      await assertPastes(after_(out, 'Allow it for an application with: '), [['latchkey', 'apps', 'update', 'cid', '--scopes', scope]], { '<client-id>': 'cid' });
    }
  });

  it('CLI: an unknown scope is refused with the command that creates it, quoted', async () => {
    for (const scope of SCOPE_HOSTILE.map((s) => `${s}-missing`)) {
      const r = await cli.run(['apps', 'create', '--name', 'Scoped', '--grants', 'client_credentials', '--scopes', scope]);
      assert.equal(r.code, 1);
      // The command is what follows "Create it with" (before this change it sat in backticks).
      const command = /(latchkey scopes create .*?)(?:`\.)?$/m.exec(r.err)?.[1];
      assert.ok(command !== undefined, r.err);
      await assertPastes(command, [['latchkey', 'scopes', 'create', scope]]);
    }
  });

  it('CLI: idps add prints its next steps and warnings with the provider name and claim quoted', async () => {
    for (const [i, name] of ['corp;touch pwned', '$(touch pwned)', "it's $(touch pwned)"].entries()) {
      const r = await cli.run([
        'idps', 'add', '--name', name, '--issuer', `https://login${i}.example.com`, '--jwks-uri', `https://login${i}.example.com/keys`,
        '--audience', 'aud $(touch pwned)', '--user-claim', '$(touch${IFS}pwned)', '--no-check', '--inactive',
      ]);
      assert.equal(r.code, 0, r.err);
      await assertPastes(`latchkey users create ${after_(r.out, 'latchkey users create ')}`, [['latchkey', 'users', 'create', 'jdoe', '--roles', 'itil']], { '<claim-value>': 'jdoe' });
      await assertPastes(after_(r.err, 'Check them later with: '), [['latchkey', 'idps', 'check', name]]);
      await assertPastes(after_(r.err, 'Fix: '), [['latchkey', 'idps', 'update', name, '--active', 'true']]);
    }
  });

  it('CLI: apps create and rotate-secret print next steps, fixes and the rotate command that run as shown', async () => {
    const user = 'svc.a+b@c-d_e';
    await cli.ok(['users', 'create', user, '--inactive']);
    const r = await cli.run(['apps', 'create', '--name', "Reports $(touch pwned) 'x'", '--grants', 'client_credentials,password', '--app-user', user]);
    assert.equal(r.code, 0, r.err);
    const clientId = after_(r.out, 'Client id').trim();
    const secret = /^ {4}(lk_cs_\S+)$/m.exec(r.out)?.[1] ?? '';
    const token = 'http://localhost:8080/oauth_token.do';
    const curls = r.out.split('\n').filter((l) => l.startsWith('  curl '));
    assert.equal(curls.length, 2, r.out);
    await assertPastes(curls[0] ?? '', [['curl', '-u', `${clientId}:${secret}`, '-d', 'grant_type=client_credentials', token]]);
    await assertPastes(curls[1] ?? '', [['curl', '-u', `${clientId}:${secret}`, '-d', 'grant_type=password', '--data-urlencode', 'username=<user-name>', '--data-urlencode', 'password=<password>', token]]);
    await assertPastes(after_(r.out, 'replace it with: '), [['latchkey', 'apps', 'rotate-secret', clientId]]);
    const fixes = r.err.split('\n').filter((l) => l.includes('Fix: ')).map((l) => l.slice(l.indexOf('Fix: ') + 5));
    const pasted = await Promise.all(fixes.map((f) => paste(f)));
    assert.ok(pasted.every((p) => !p.pwned));
    assert.deepEqual(pasted.map((p) => p.calls), [
      [['latchkey', 'users', 'update', user, '--active', 'true']],
      [['latchkey', 'properties', 'set', 'glide.oauth.inbound.client.credential.grant_type.enabled', 'true']],
    ]);
  });

  it('doctor (CLI): the fix for stored redirect URIs keeps the valid ones, each quoted', async () => {
    const clientId = JSON.parse(await cli.ok(['apps', 'create', '--name', 'Web', '--grants', 'authorization_code', '--redirect-uri', HOSTILE_NATIVE, '--json'])).clientId as string;
    const stored = [`http://app.example.com/cb?x=$(touch$IFS'pwned')`, HOSTILE_NATIVE, 'javascript:alert(1)', HOSTILE_HTTPS];
    await cli.storage(async (s) => {
      const app = await s.applications.byClientId(clientId);
      assert.ok(app !== undefined);
      await s.applications.update({ ...app, redirectUris: stored });
    });
    const r = await cli.run(['doctor', '--json', '--apis', join(dir, 'shell-apis')]);
    const findings = JSON.parse(r.out) as Finding[];
    const invalid = findings.find((f) => f.id === 'redirect_uri_invalid' && f.target === clientId);
    assert.ok(invalid?.command !== undefined, r.out);
    const expected = ['latchkey', 'apps', 'update', clientId, '--redirect-uri', `https://app.example.com/cb?x=$(touch$IFS'pwned')`, '--redirect-uri', HOSTILE_NATIVE, '--redirect-uri', HOSTILE_HTTPS];
    await assertPastes(invalid.command, [expected]);
    // And the command does what it says: the doctor is then satisfied with the application.
    await cli.ok(expected.slice(1));
    const again = JSON.parse((await cli.run(['doctor', '--json', '--apis', join(dir, 'shell-apis')])).out) as Finding[];
    assert.deepEqual(again.filter((f) => f.target === clientId), []);
  });

  it('doctor (CLI) and the key file warning: paths with shell syntax are quoted in the chmod and the move', async () => {
    const folder = join(dir, 'data $(touch pwned)');
    mkdirSync(folder);
    const db = join(folder, 'latchkey.db');
    const local = new CliDb(db);
    await local.ok(['init']);
    const kek = resolveKek(db, undefined);
    chmodSync(kek.file ?? '', 0o644);
    chmodSync(db, 0o644);
    // The serve start-up warning for a readable key file.
    await assertPastes(after_(resolveKek(db, undefined).warning ?? '', 'Restrict it: '), [['chmod', '600', kek.file ?? '']]);
    const r = await local.run(['doctor', '--json', '--apis', join(dir, 'shell-apis')]);
    const findings = JSON.parse(r.out) as Finding[];
    const beside = findings.find((f) => f.id === 'kek_beside_database');
    const loose = findings.find((f) => f.id === 'file_permissions_loose');
    assert.ok(beside?.command !== undefined && loose?.command !== undefined, r.out);
    await assertPastes(beside.command, [['install', '-d', '-m', '700', '/srv/keys'], ['install', '-m', '600', kek.file ?? '', '/srv/keys/latchkey.kek']], { '<key-folder>': '/srv/keys' });
    // The CLI has the database open while it checks: its -wal and -shm files took the database's 0644.
    await assertPastes(loose.command, [['chmod', '600', db, `${db}-wal`, `${db}-shm`, kek.file ?? '']]);
  });
});

describe('printed commands from the admin API carry hostile values safely', () => {
  let server: TestServer;
  let admin: AdminClient;
  let apis: string;

  before(async () => {
    apis = mkdtempSync(join(tmpdir(), 'latchkey-shell-apis-'));
    writeFileSync(
      join(apis, 'hostile.mjs'),
      `import { defineApi } from 'latchkey/api';
export const api = defineApi({ namespace: 'evil', id: 'scopes', resources: [
  { method: 'GET', path: '/a', security: { scopes: [${JSON.stringify(SCOPE_HOSTILE[0])}] }, handler: () => ({ body: {} }) },
  { method: 'GET', path: '/b', security: { scopes: [${JSON.stringify(SCOPE_HOSTILE[2])}] }, handler: () => ({ body: {} }) },
] });
`,
    );
    server = await startTestServer({ apisDir: apis });
    admin = bearerClient(server, await adminToken(server, 'admin', ADMIN_PASSWORD));
  });
  after(async () => {
    await server?.close();
    rmSync(apis, { recursive: true, force: true });
  });

  it('the curl of a new application (shown by the console) quotes its redirect URI', async () => {
    const conf = await admin.call('POST', '/applications', { name: 'Hostile web', kind: 'authorization_code', redirectUris: [HOSTILE_HTTPS] });
    assert.equal(conf.status, 201, conf.text);
    const id = conf.json.application.clientId as string;
    const code = ['-d', 'grant_type=authorization_code', '-d', 'code=<code>', '-d', 'code_verifier=<verifier>'];
    await assertPastes(conf.json.curl, [['curl', '-u', `${id}:${conf.json.clientSecret}`, ...code, '--data-urlencode', `redirect_uri=${HOSTILE_HTTPS}`, `${server.url}/oauth_token.do`]]);
    const rotated = await admin.call('POST', `/applications/${id}/rotate-secret`);
    assert.equal(rotated.status, 200, rotated.text);
    await assertPastes(rotated.json.curl, [['curl', '-u', `${id}:${rotated.json.clientSecret}`, ...code, '--data-urlencode', `redirect_uri=${HOSTILE_HTTPS}`, `${server.url}/oauth_token.do`]]);
    const pub = await admin.call('POST', '/applications', { name: 'Hostile native', kind: 'authorization_code', public: true, redirectUris: [HOSTILE_NATIVE] });
    assert.equal(pub.status, 201, pub.text);
    await assertPastes(pub.json.curl, [['curl', '-d', `client_id=${pub.json.application.clientId}`, ...code, '--data-urlencode', `redirect_uri=${HOSTILE_NATIVE}`, `${server.url}/oauth_token.do`]]);
  });

  it('the doctor findings (console home page) quote the scopes an API module names', async () => {
    const res = await admin.call('GET', '/findings');
    assert.equal(res.status, 200, res.text);
    const findings = (res.json as Finding[]).filter((f) => f.id === 'api_scope_unattainable' && f.target === 'evil/scopes');
    assert.equal(findings.length, 2, res.text);
    for (const f of findings) {
      const scope = SCOPE_HOSTILE.find((s) => f.detail.includes(`scopes ${s} `));
      assert.ok(scope !== undefined && f.command !== undefined, f.detail);
      await assertPastes(f.command, [['latchkey', 'scopes', 'create', scope], ['latchkey', 'apps', 'update', 'cid', '--scopes', `a,b,${scope}`]], { '<client-id>': 'cid', '<its-current-scopes>': 'a,b' });
    }
  });
});
