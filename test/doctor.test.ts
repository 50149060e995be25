import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ManualClock, systemClock, type Clock } from '../src/core/clock.js';
import { FINDING_IDS, runDoctor, type Finding } from '../src/diagnostics/doctor.js';
import { createKeyEncryption } from '../src/keys/encryption.js';
import { resolveKek } from '../src/keys/kek.js';
import { Keyring } from '../src/keys/keyring.js';
import { CONSOLE_CLIENT_ID, ensureConsoleApplication } from '../src/registry/bootstrap.js';
import { loadApis } from '../src/resource-server/load.js';
import { ApiRouter } from '../src/resource-server/router.js';
import { FIXTURE_APIS, ROOT } from './helpers/api.js';
import { freshDb, runFix, type CliDb } from './helpers/diagnostics.js';

const CC = 'glide.oauth.inbound.client.credential.grant_type.enabled';
const DAY = 86_400_000;

let dir: string;
let fixtures: ApiRouter;
const none = new ApiRouter([]);

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'latchkey-doctor-'));
  process.env.LATCHKEY_ADMIN_PASSWORD = 'admin-password-for-tests';
  delete process.env.LATCHKEY_APIS;
  delete process.env.LATCHKEY_KEY_ENCRYPTION_KEY;
  fixtures = await loadApis(FIXTURE_APIS, { required: true });
});

after(() => rmSync(dir, { recursive: true, force: true }));

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * A bootstrapped database whose admin password has been changed and whose client ID metadata
 * documents are trusted from listed domains only (so it reports nothing by itself: a fresh database
 * warns cimd_trusts_any_domain by design, see the test of that finding).
 */
async function setup(name: string): Promise<{ cli: CliDb; noApis: string }> {
  const db = await freshDb(dir, name);
  await sleep(3);
  await db.cli.ok(['users', 'update', 'admin', '--password-stdin'], 'a-changed-admin-password\n');
  await db.cli.ok(['properties', 'set', 'latchkey.cimd.allow_unknown_domains', 'false']);
  return db;
}

async function doctor(cli: CliDb, router: ApiRouter = none, clock: Clock = systemClock): Promise<Finding[]> {
  return cli.storage((storage) => runDoctor({ storage, router, clock }));
}

function only(findings: readonly Finding[], id: string, target?: string): Finding[] {
  return findings.filter((f) => f.id === id && (target === undefined || f.target === target));
}

function one(findings: readonly Finding[], id: string, target?: string): Finding {
  const found = only(findings, id, target);
  assert.equal(found.length, 1, `expected one ${id}${target === undefined ? '' : ` for ${target}`}, got ${JSON.stringify(findings, null, 2)}`);
  return found[0] as Finding;
}

/** The CLI's doctor --json: findings and the exit code. */
async function cliDoctor(cli: CliDb, apis: string): Promise<{ code: number; findings: Finding[] }> {
  const r = await cli.run(['doctor', '--json', '--apis', apis]);
  return { code: r.code, findings: JSON.parse(r.out) as Finding[] };
}

async function createApp(cli: CliDb, args: readonly string[]): Promise<string> {
  const created = await cli.json<{ clientId: string }>(['apps', 'create', ...args]);
  return created.clientId;
}

describe('latchkey doctor', () => {
  it('cimd_trusts_any_domain: a fresh database accepts client ID metadata documents from any host and says so; an allowed list or the switch fixes it', async () => {
    const db = await freshDb(dir, 'cimd-any');
    await db.cli.ok(['users', 'update', 'admin', '--password-stdin'], 'a-changed-admin-password\n');
    const f = one(await doctor(db.cli), 'cimd_trusts_any_domain');
    assert.equal(f.severity, 'warning');
    assert.equal(f.command, 'latchkey properties set latchkey.cimd.allowed_domains \'<host,*.example.com>\'');
    assert.deepEqual((await doctor(db.cli)).map((x) => x.id), ['cimd_trusts_any_domain']);
    await db.cli.ok(['properties', 'set', 'latchkey.cimd.allowed_domains', 'agents.example.com,*.partner.example']);
    assert.deepEqual(await doctor(db.cli), []);
    await db.cli.ok(['properties', 'set', 'latchkey.cimd.allowed_domains', '']);
    await db.cli.ok(['properties', 'set', 'latchkey.cimd.enabled', 'false']);
    assert.deepEqual(await doctor(db.cli), []);
  });

  it('open_registration_unlimited: open registration without a per-source limit warns; a limit or token mode fixes it', async () => {
    const db = await freshDb(dir, 'open-registration');
    await db.cli.ok(['users', 'update', 'admin', '--password-stdin'], 'a-changed-admin-password\n');
    await db.cli.ok(['properties', 'set', 'latchkey.cimd.enabled', 'false']);
    assert.deepEqual(await doctor(db.cli), [], 'token mode (the default) is fine');
    await db.cli.ok(['properties', 'set', 'latchkey.registration.mode', 'open']);
    assert.deepEqual(await doctor(db.cli), [], 'open with the default limit (20 per window) is fine');
    await db.cli.ok(['properties', 'set', 'latchkey.rate_limit.registration', '0']);
    const f = one(await doctor(db.cli), 'open_registration_unlimited');
    assert.equal(f.severity, 'warning');
    assert.equal(f.command, 'latchkey properties set latchkey.rate_limit.registration 20');
    await db.cli.ok(['properties', 'set', 'latchkey.registration.mode', 'token']);
    assert.deepEqual(await doctor(db.cli), []);
  });

  it('a clean database (admin password changed) reports nothing; with the fixture APIs only the unattainable scopes', async () => {
    const { cli, noApis } = await setup('clean');
    assert.deepEqual(await doctor(cli), []);
    const r = await cli.run(['doctor', '--apis', noApis]);
    assert.equal(r.code, 0, r.err);
    assert.equal(r.out, 'No problems found.\n');
    const withApis = await doctor(cli, fixtures);
    assert.ok(withApis.length > 0);
    assert.deepEqual([...new Set(withApis.map((f) => f.id))], ['api_scope_unattainable']);
    assert.ok(withApis.every((f) => (FINDING_IDS as readonly string[]).includes(f.id)));
    for (const command of [['doctor'], ['inspect']]) {
      const help = await cli.run([...command, '--help']);
      assert.equal(help.code, 0);
      assert.match(help.out, /Usage: latchkey/);
    }
    // Every finding is listed in `doctor --help` and documented in docs/diagnostics.md.
    const help = (await cli.run(['doctor', '--help'])).out;
    const docs = readFileSync(join(ROOT, 'docs', 'diagnostics.md'), 'utf8');
    for (const id of FINDING_IDS) {
      assert.ok(help.includes(id), `doctor --help lists ${id}`);
      assert.ok(docs.includes(`| \`${id}\` |`), `docs/diagnostics.md documents ${id}`);
    }
  });

  it('client_credentials_disabled: reported with the property command; gone after running it', async () => {
    const { cli, noApis } = await setup('cc');
    await cli.ok(['users', 'create', 'svc-cc']);
    const clientId = await createApp(cli, ['--name', 'Nightly export', '--grants', 'client_credentials', '--app-user', 'svc-cc']);
    const f = one(await doctor(cli), 'client_credentials_disabled');
    assert.equal(f.severity, 'error');
    assert.match(f.detail, /"Nightly export"/);
    assert.ok(f.detail.includes(clientId));
    assert.equal(f.command, `latchkey properties set ${CC} true`);
    assert.equal(f.link, `#/properties/${CC}`);
    // The CLI, once with --json: the same finding, and exit status 1 for an error.
    const viaCli = await cliDoctor(cli, noApis);
    assert.equal(viaCli.code, 1);
    assert.deepEqual(one(viaCli.findings, 'client_credentials_disabled'), f);
    // Human output: the table, then the fix as a command.
    const text = await cli.run(['doctor', '--apis', noApis]);
    assert.equal(text.code, 1);
    assert.match(text.out, /^SEVERITY\s+FINDING\s+DETAIL/);
    assert.match(text.out, /error\s+client_credentials_disabled/);
    assert.ok(text.out.includes(`   latchkey properties set ${CC} true\n`));
    await runFix(cli, f.command ?? '');
    assert.deepEqual(only(await doctor(cli), 'client_credentials_disabled'), []);
    assert.equal((await cliDoctor(cli, noApis)).code, 0);
  });

  it('openid_without_code_flow, offline_access_without_refresh, claim_scopes_without_openid: reported per application; their commands fix them', async () => {
    const { cli } = await setup('oidc');
    const web = await createApp(cli, ['--name', 'Wiki', '--grants', 'authorization_code', '--redirect-uri', 'https://wiki.example.com/cb', '--scopes', 'offline_access,profile,email']);
    const ropc = await createApp(cli, ['--name', 'Mobile', '--grants', 'password', '--scopes', 'openid']);
    const findings = await doctor(cli);
    const noRefresh = one(findings, 'offline_access_without_refresh', web);
    assert.equal(noRefresh.severity, 'warning');
    assert.equal(noRefresh.command, `latchkey apps update ${web} --grants authorization_code,refresh_token`);
    const claims = one(findings, 'claim_scopes_without_openid', web);
    assert.match(claims.detail, /profile, email but not openid/);
    assert.equal(claims.command, `latchkey apps update ${web} --scopes offline_access,profile,email,openid`);
    const noCode = one(findings, 'openid_without_code_flow', ropc);
    assert.match(noCode.detail, /"Mobile".*grants are password/);
    // No redirect URI: the fix drops openid rather than adding a code flow it cannot use.
    assert.equal(noCode.command, `latchkey apps update ${ropc} --scopes ''`);
    for (const f of [noRefresh, claims, noCode]) await runFix(cli, f.command ?? '');
    const after = await doctor(cli);
    for (const id of ['openid_without_code_flow', 'offline_access_without_refresh', 'claim_scopes_without_openid']) assert.deepEqual(only(after, id), [], id);
  });

  it('par_required_without_code_flow: reported for an application that requires PAR without the code flow; its command fixes it', async () => {
    const { cli } = await setup('par');
    const web = await createApp(cli, ['--name', 'Portal', '--grants', 'authorization_code', '--redirect-uri', 'https://portal.example.com/cb', '--par-required']);
    const batch = await createApp(cli, ['--name', 'Batch', '--grants', 'password', '--par-required', 'true']);
    const findings = await doctor(cli);
    assert.deepEqual(only(findings, 'par_required_without_code_flow').map((f) => f.target), [batch], 'not the portal, whose code flow it protects');
    const f = one(findings, 'par_required_without_code_flow', batch);
    assert.equal(f.severity, 'warning');
    assert.match(f.detail, /"Batch".*grants are password/);
    assert.equal(f.command, `latchkey apps update ${batch} --par-required false`);
    await runFix(cli, f.command ?? '');
    assert.deepEqual(only(await doctor(cli), 'par_required_without_code_flow'), []);
    // apps show tells whether PAR is required.
    assert.match(await cli.ok(['apps', 'show', web]), /PAR required \(RFC 9126\)\s+yes/);
    assert.match(await cli.ok(['apps', 'show', batch]), /PAR required \(RFC 9126\)\s+no/);
    // Creating one prints the push to start from.
    const created = await cli.ok(['apps', 'create', '--name', 'Bank', '--grants', 'authorization_code', '--redirect-uri', 'https://bank.example.com/cb', '--par-required']);
    assert.match(created, /PAR is required: push each authorization request/);
    assert.match(created, /curl -u [0-9a-f]{32}:lk_cs_\S+ -d response_type=code -d redirect_uri=https:\/\/bank\.example\.com\/cb .* http:\/\/localhost:8080\/oauth\/par/);
  });

  it('application_user_missing: reported; creating and setting the suggested user fixes it', async () => {
    const { cli } = await setup('appuser');
    await cli.ok(['properties', 'set', CC, 'true']);
    const clientId = await createApp(cli, ['--name', 'Nightly export', '--grants', 'client_credentials']);
    const f = one(await doctor(cli), 'application_user_missing', clientId);
    assert.equal(f.severity, 'error');
    assert.equal(f.command, `latchkey users create svc-nightly-export && latchkey apps update ${clientId} --app-user svc-nightly-export`);
    assert.equal(f.link, `#/applications/${clientId}`);
    await runFix(cli, f.command ?? '');
    assert.deepEqual(only(await doctor(cli), 'application_user_missing'), []);
    assert.deepEqual(only(await doctor(cli), 'application_user_inactive'), []);
  });

  it('application_user_inactive: reported; activating the user fixes it', async () => {
    const { cli } = await setup('inactive');
    await cli.ok(['properties', 'set', CC, 'true']);
    await cli.ok(['users', 'create', 'svc-sync']);
    const clientId = await createApp(cli, ['--name', 'Sync', '--grants', 'client_credentials', '--app-user', 'svc-sync']);
    assert.deepEqual(await doctor(cli), []);
    await cli.ok(['users', 'update', 'svc-sync', '--active', 'false']);
    const f = one(await doctor(cli), 'application_user_inactive', clientId);
    assert.equal(f.severity, 'error');
    assert.match(f.detail, /svc-sync is inactive/);
    assert.equal(f.command, 'latchkey users update svc-sync --active true');
    await runFix(cli, f.command ?? '');
    assert.deepEqual(await doctor(cli), []);
  });

  it('redirect_uri_not_https and redirect_uri_invalid: stored URIs outside the rules; one fix keeps the valid ones', async () => {
    const { cli } = await setup('redirect');
    const valid = ['http://localhost:3000/cb', 'http://127.0.0.1/cb', 'http://[::1]:8080/cb', 'com.example.app:/oauth', 'https://ok.example.com/cb'];
    const clientId = await createApp(cli, ['--name', 'Web app', '--grants', 'authorization_code', ...valid.flatMap((u) => ['--redirect-uri', u])]);
    assert.deepEqual(await doctor(cli), []);
    // Registered before the rules (the registry refuses them now): written to the database directly.
    const stored = ['http://app.example.com/cb', ...valid, 'javascript:alert(1)', 'https://x.example.com/cb\r\nSet-Cookie: a=b'];
    await cli.storage(async (st) => {
      const app = await st.applications.byClientId(clientId);
      assert.ok(app !== undefined);
      await st.applications.update({ ...app, redirectUris: stored });
    });
    const findings = await doctor(cli);
    const http = one(findings, 'redirect_uri_not_https', clientId);
    assert.equal(http.severity, 'warning');
    assert.match(http.detail, /http:\/\/app\.example\.com\/cb/);
    assert.doesNotMatch(http.detail, /localhost:3000|127\.0\.0\.1\/cb|\[::1\]:8080|com\.example\.app:\/oauth|ok\.example/);
    const invalid = one(findings, 'redirect_uri_invalid', clientId);
    assert.equal(invalid.severity, 'error');
    assert.match(invalid.detail, /"javascript:alert\(1\)" uses the scheme javascript:/);
    // The CR/LF is shown escaped, never raw.
    assert.ok(invalid.detail.includes('"https://x.example.com/cb\\u000D\\u000ASet-Cookie: a=b" contains a control character (U+000D)'), invalid.detail);
    assert.doesNotMatch(invalid.detail, /\r|\n/);
    assert.equal(invalid.command, http.command);
    await runFix(cli, invalid.command ?? '');
    assert.deepEqual(await doctor(cli), []);
    const app = await cli.json<{ redirectUris: string[] }>(['apps', 'show', clientId]);
    assert.deepEqual(app.redirectUris, ['https://app.example.com/cb', ...valid]);
  });

  it('api_scope_unattainable: an API whose scopes no application may get; gone once an application is allowed them', async () => {
    const { cli } = await setup('scopes');
    const findings = only(await doctor(cli, fixtures), 'api_scope_unattainable', 'acme/orders');
    assert.equal(findings.length, 2, JSON.stringify(findings));
    const read = findings.find((f) => f.detail.includes('scopes orders.read '));
    assert.ok(read !== undefined);
    assert.equal(read.severity, 'warning');
    assert.match(read.detail, /GET \/api\/acme\/orders\/\{id\}/);
    assert.doesNotMatch(read.detail, /health\/check/);
    assert.match(read.command ?? '', /^latchkey scopes create orders\.read && latchkey apps update <client-id> --scopes <its-current-scopes>,orders\.read$/);
    const viaCli = await cliDoctor(cli, FIXTURE_APIS);
    assert.equal(viaCli.code, 0);
    assert.equal(only(viaCli.findings, 'api_scope_unattainable', 'acme/orders').length, 2);
    const clientId = await createApp(cli, ['--name', 'Orders client', '--grants', 'client_credentials']);
    for (const f of findings) await runFix(cli, f.command ?? '', { replace: { '<client-id>': clientId, '<its-current-scopes>': (await cli.json<{ scopes: string[] }>(['apps', 'show', clientId])).scopes.join(',') } });
    assert.deepEqual(only(await doctor(cli, fixtures), 'api_scope_unattainable'), []);
  });

  it('useraccount_scope_allowed: reported; removing the scope fixes it (and useraccount makes every API attainable)', async () => {
    const { cli } = await setup('useraccount');
    const clientId = await createApp(cli, ['--name', 'Everything', '--grants', 'authorization_code', '--redirect-uri', 'https://e.example.com/cb', '--scopes', 'useraccount']);
    const findings = await doctor(cli, fixtures);
    const f = one(findings, 'useraccount_scope_allowed', clientId);
    assert.equal(f.severity, 'warning');
    assert.deepEqual(only(findings, 'api_scope_unattainable'), []);
    assert.equal(f.command, `latchkey apps update ${clientId} --scopes ''`);
    await runFix(cli, f.command ?? '');
    assert.deepEqual(only(await doctor(cli), 'useraccount_scope_allowed'), []);
  });

  it('secret_rotation_due: an old client secret; rotating it fixes it; 0 turns the check off', async () => {
    const { cli } = await setup('secret');
    const clientId = await createApp(cli, ['--name', 'Old partner', '--grants', 'authorization_code', '--redirect-uri', 'https://p.example.com/cb']);
    assert.deepEqual(await doctor(cli), []);
    await cli.storage(async (s) => {
      const app = await s.applications.byClientId(clientId);
      assert.ok(app !== undefined);
      await s.applications.update({ ...app, secretRotatedAt: Date.now() - 200 * DAY });
    });
    const f = one(await doctor(cli), 'secret_rotation_due', clientId);
    assert.equal(f.severity, 'warning');
    assert.match(f.detail, /200 days ago/);
    assert.equal(f.command, `latchkey apps rotate-secret ${clientId}`);
    await cli.ok(['properties', 'set', 'latchkey.secrets.rotation_days', '0']);
    assert.deepEqual(await doctor(cli), []);
    await cli.ok(['properties', 'set', 'latchkey.secrets.rotation_days', '180']);
    assert.equal(only(await doctor(cli), 'secret_rotation_due').length, 1);
    await runFix(cli, f.command ?? '');
    assert.deepEqual(await doctor(cli), []);
  });

  it('application_dormant: an application with a working secret and no use for latchkey.posture.dormant_days; deactivating it fixes it', async () => {
    const { cli } = await setup('dormant');
    const clientId = await createApp(cli, ['--name', 'Forgotten partner', '--grants', 'authorization_code', '--redirect-uri', 'https://f.example.com/cb']);
    const busy = await createApp(cli, ['--name', 'Busy partner', '--grants', 'authorization_code', '--redirect-uri', 'https://b.example.com/cb']);
    const now = Date.now();
    const day = now - (now % DAY);
    await cli.storage(async (s) => {
      for (const id of [clientId, busy]) {
        const app = await s.applications.byClientId(id);
        assert.ok(app !== undefined);
        await s.applications.update({ ...app, createdAt: now - 100 * DAY });
      }
    });
    // Nothing counted yet (a new install, an upgrade): no application can be told dormant.
    assert.deepEqual(only(await doctor(cli), 'application_dormant'), []);
    // Use counted for 40 days: the busy partner 40 days ago and today, the forgotten one never.
    await cli.storage((s) =>
      s.usage.add([
        { clientId: busy, day: day - 40 * DAY, scope: '', tokens: 1, calls: 0, refusals: 0, lastUseAt: now - 40 * DAY },
        { clientId: busy, day, scope: '', tokens: 1, calls: 0, refusals: 0, lastUseAt: now },
      ]),
    );
    const f = one(await doctor(cli), 'application_dormant', clientId);
    assert.equal(f.severity, 'warning');
    assert.match(f.detail, /"Forgotten partner".* for 40 days \(none counted\); latchkey\.posture\.dormant_days is 30\. Its client secret still works\./);
    assert.deepEqual(only(await doctor(cli), 'application_dormant', busy), []);
    assert.equal(f.command, `latchkey apps update ${clientId} --active false`);
    await cli.ok(['properties', 'set', 'latchkey.posture.dormant_days', '60']);
    assert.deepEqual(only(await doctor(cli), 'application_dormant'), []);
    await cli.ok(['properties', 'set', 'latchkey.posture.dormant_days', '30']);
    await runFix(cli, f.command ?? '');
    assert.deepEqual(only(await doctor(cli), 'application_dormant'), []);
  });

  it('signing_key_rotation_due: a key signing for longer than latchkey.keys.rotation_days; `keys rotate` fixes it', async () => {
    const { cli } = await setup('keys');
    const kek = resolveKek(cli.db, undefined);
    await cli.storage(async (storage) => {
      const keyring = new Keyring({ storage, clock: new ManualClock(Date.now() - 100 * DAY), encryption: createKeyEncryption(kek.kek) });
      assert.equal((await keyring.rotate({ prepublishMs: 0 })).rotated, true);
    });
    const f = one(await doctor(cli), 'signing_key_rotation_due');
    assert.equal(f.severity, 'warning');
    assert.match(f.detail, /signing for 100 days/);
    assert.equal(f.command, 'latchkey keys rotate');
    assert.equal(f.link, '#/keys');
    // Not due yet 89 days in (default 90).
    assert.deepEqual(await doctor(cli, none, new ManualClock(Date.now() - 11 * DAY)), []);
    await runFix(cli, f.command ?? '');
    assert.deepEqual(await doctor(cli), []);
  });

  it('no_active_administrator and console_application_inactive: refused by the CLI with the registry message, reported when the database got there anyway, fixed by their commands', async () => {
    const { cli, noApis } = await setup('administration');
    // The CLI refuses both changes, with the registry's message, exit 1.
    const lastAdmin = await cli.run(['users', 'update', 'admin', '--active', 'false']);
    assert.equal(lastAdmin.code, 1, lastAdmin.out);
    assert.match(lastAdmin.err, /Deactivating "admin" would leave this instance with no active administrator/);
    assert.match(lastAdmin.err, /latchkey users update <user> --roles admin/);
    await cli.storage((storage) => ensureConsoleApplication({ storage, clock: systemClock }, 'http://127.0.0.1:8080'));
    const consoleApp = await cli.run(['apps', 'update', CONSOLE_CLIENT_ID, '--active', 'false']);
    assert.equal(consoleApp.code, 1, consoleApp.out);
    assert.match(consoleApp.err, /built-in application the admin console signs in with; deactivating it would lock every administrator out/);
    assert.deepEqual(await doctor(cli), []);

    // A database edited by hand (or from an older version): both states, reported as errors.
    await cli.storage(async (storage) => {
      const admin = await storage.users.byName('admin');
      const app = await storage.applications.byClientId(CONSOLE_CLIENT_ID);
      assert.ok(admin !== undefined && app !== undefined);
      await storage.users.update({ ...admin, active: false });
      await storage.applications.update({ ...app, active: false });
    });
    const findings = await doctor(cli);
    const noAdmin = one(findings, 'no_active_administrator', 'admin');
    assert.equal(noAdmin.severity, 'error');
    assert.match(noAdmin.detail, /nobody can sign in to the console or use the admin API/);
    assert.match(noAdmin.detail, /Inactive users with the role: admin\./);
    assert.equal(noAdmin.command, 'latchkey users update admin --active true');
    assert.equal(noAdmin.link, '#/users');
    const inactive = one(findings, 'console_application_inactive', CONSOLE_CLIENT_ID);
    assert.equal(inactive.severity, 'error');
    assert.match(inactive.detail, /"Latchkey Console" \(client id latchkey-console\)/);
    assert.equal(inactive.command, 'latchkey apps update latchkey-console --active true');
    assert.equal(inactive.link, '#/applications/latchkey-console');
    const viaCli = await cliDoctor(cli, noApis);
    assert.equal(viaCli.code, 1);
    // (The CLI also checks the files beside the database: kek_beside_database here.)
    assert.deepEqual(viaCli.findings.filter((f) => f.severity === 'error').map((f) => f.id).sort(), ['console_application_inactive', 'no_active_administrator']);
    const text = await cli.run(['doctor', '--apis', noApis]);
    assert.match(text.out, /no_active_administrator \(admin\): Activate an administrator/);
    await runFix(cli, noAdmin.command ?? '');
    await runFix(cli, inactive.command ?? '');
    assert.deepEqual(await doctor(cli), []);

    // The admin active but without the role: the command gives it back, keeping its other roles.
    await cli.storage(async (storage) => {
      const admin = await storage.users.byName('admin');
      assert.ok(admin !== undefined);
      await storage.users.update({ ...admin, roles: ['itil'] });
    });
    const roleless = one(await doctor(cli), 'no_active_administrator', 'admin');
    assert.equal(roleless.command, 'latchkey users update admin --roles itil,admin');
    await runFix(cli, roleless.command ?? '');
    assert.deepEqual(await doctor(cli), []);

    // No admin user at all: create one (the operator names it).
    await cli.storage(async (storage) => {
      const admin = await storage.users.byName('admin');
      assert.ok(admin !== undefined && (await storage.users.delete(admin.id)));
    });
    const none = one(await doctor(cli), 'no_active_administrator');
    assert.equal(none.target, undefined);
    assert.equal(none.command, 'printf %s "$NEW_PASSWORD" | latchkey users create <user> --roles admin --password-stdin');
    await runFix(cli, none.command ?? '', { replace: { '<user>': 'ops' }, stdin: 'ops-first-password\n' });
    assert.deepEqual(only(await doctor(cli), 'no_active_administrator'), []);
  });

  it('admin_default_password: an error for the built-in admin, a warning for another admin; changing the password fixes it', async () => {
    const { cli, noApis } = await freshDb(dir, 'password');
    await cli.ok(['properties', 'set', 'latchkey.cimd.allow_unknown_domains', 'false']);
    await cli.ok(['users', 'create', 'ops', '--roles', 'admin', '--password-stdin'], 'ops-first-password\n');
    await cli.ok(['users', 'create', 'nopass', '--roles', 'admin']);
    const findings = await doctor(cli);
    const admin = one(findings, 'admin_default_password', 'admin');
    assert.equal(admin.severity, 'error');
    assert.equal(admin.command, 'printf %s "$NEW_PASSWORD" | latchkey users update admin --password-stdin');
    const ops = one(findings, 'admin_default_password', 'ops');
    assert.equal(ops.severity, 'warning');
    assert.deepEqual(only(findings, 'admin_default_password', 'nopass'), []);
    const viaCli = await cliDoctor(cli, noApis);
    assert.equal(viaCli.code, 1);
    assert.equal(only(viaCli.findings, 'admin_default_password').length, 2);
    await sleep(3);
    await runFix(cli, admin.command ?? '', { stdin: 'a-brand-new-password\n' });
    await runFix(cli, ops.command ?? '', { stdin: 'another-new-password\n' });
    assert.deepEqual(await doctor(cli), []);
    assert.equal((await cliDoctor(cli, noApis)).code, 0);
  });

  it('rate_limit_too_low: a limit with no room to renew a token is reported with a command that fixes it', async () => {
    const { cli } = await setup('ratelimit');
    await cli.ok(['properties', 'set', CC, 'true']);
    await cli.ok(['users', 'create', 'svc-rl']);
    const clientId = await createApp(cli, ['--name', 'Hourly', '--grants', 'client_credentials', '--app-user', 'svc-rl', '--rate-limit', '1/1h']);
    const f = one(await doctor(cli), 'rate_limit_too_low', clientId);
    assert.equal(f.severity, 'warning');
    assert.match(f.detail, /its own rate limit 1\/1h/);
    assert.equal(f.command, `latchkey apps update ${clientId} --rate-limit 20/1h`);
    await runFix(cli, f.command ?? '');
    assert.deepEqual(only(await doctor(cli), 'rate_limit_too_low'), []);
    // The instance default counts for applications without their own.
    await cli.ok(['apps', 'update', clientId, '--rate-limit', '']);
    await cli.ok(['properties', 'set', 'latchkey.rate_limit.client', '1']);
    await cli.ok(['properties', 'set', 'latchkey.rate_limit.window_seconds', '3600']);
    assert.match(one(await doctor(cli), 'rate_limit_too_low', clientId).detail, /latchkey\.rate_limit\.client = 1 per 1h/);
  });

  it('metrics_unprotected: only where the instance is reached on a non-loopback address and /metrics needs no token', async () => {
    const { cli } = await setup('metrics');
    const at = (listening: string) => cli.storage((storage) => runDoctor({ storage, router: none, clock: systemClock, listening }));
    assert.deepEqual(only(await at('http://127.0.0.1:8080'), 'metrics_unprotected'), []);
    assert.deepEqual(only(await at('http://localhost:8080'), 'metrics_unprotected'), []);
    const f = one(await at('https://auth.example.com'), 'metrics_unprotected');
    assert.equal(f.command, 'latchkey metrics token');
    assert.match(f.detail, /https:\/\/auth\.example\.com/);
    await runFix(cli, f.command ?? '');
    assert.deepEqual(only(await at('https://auth.example.com'), 'metrics_unprotected'), []);
    await cli.ok(['metrics', 'token', '--remove']);
    await cli.ok(['properties', 'set', 'latchkey.metrics.enabled', 'false']);
    assert.deepEqual(only(await at('https://auth.example.com'), 'metrics_unprotected'), []);
  });
});
