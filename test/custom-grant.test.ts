import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { BUILT_IN_GRANTS, createLatchkey, type GrantModule } from '../src/index.js';
import { createMemoryStorage } from '../src/storage/memory/adapter.js';
import { ADMIN_PASSWORD, adminToken, bearerClient, type AdminClient } from './helpers/admin.js';
import { BIN, instanceEnv, latchkeyCli } from './helpers/instances.js';
import { ROOT } from './helpers/api.js';
import { launchChromium } from './helpers/chromium.js';
import { assertOAuthError, assertRefusal, refreshCache, tokenRequest } from './helpers/oauth.js';
import { run } from './helpers/processes.js';
import { startTestServer, type TestServer } from './helpers/server.js';
import { seen, TOY_GRANT, toyGrant } from './fixtures/grants/toy-grant.js';

/**
 * The acceptance test of grant modules: a host adds a toy grant through createLatchkey({ grants })
 * alone (one module, one catalogue entry) and every surface knows it; the token endpoint enforces
 * its parameter list. The CLI, in its own process, loads the same module with --grant-module.
 */
const TOY_MODULE = fileURLToPath(new URL('./fixtures/grants/toy-grant.js', import.meta.url));

describe('a custom grant added through createLatchkey({ grants })', () => {
  let server: TestServer;
  let admin: AdminClient;
  let app: { clientId: string; secret: string };

  before(async () => {
    server = await startTestServer({ grants: [...BUILT_IN_GRANTS, toyGrant] });
    admin = bearerClient(server, await adminToken(server, 'admin', ADMIN_PASSWORD));
  });
  after(async () => server?.close());

  it('is in the metadata (grant_types_supported)', async () => {
    const res = await fetch(`${server.url}/.well-known/oauth-authorization-server`);
    const meta = (await res.json()) as { grant_types_supported: string[] };
    assert.deepEqual(meta.grant_types_supported, [...BUILT_IN_GRANTS.map((g) => g.grantType), TOY_GRANT]);
  });

  it("is in the admin API's grant list, with its parameters, rule, preset and example", async () => {
    const res = await admin.call('GET', '/grants');
    assert.equal(res.status, 200, res.text);
    const toy = res.json.find((g: { grantType: string }) => g.grantType === TOY_GRANT);
    assert.deepEqual(toy, {
      grantType: TOY_GRANT,
      alias: 'toy',
      label: 'Toy',
      summary: 'A toy grant for the tests: trade a ticket for a token.',
      parameters: [
        { name: 'ticket', required: true, description: 'The ticket to trade.' },
        { name: 'colour', required: false, description: 'A colour, for nothing.' },
      ],
      clientAuth: 'confidential',
      preset: [TOY_GRANT],
      adminApi: false,
      example: `curl -u '<client-id>:<client-secret>' -d grant_type=urn%3Aexample%3Aparams%3Aoauth%3Agrant-type%3Atoy -d 'ticket=<ticket>' ${server.url}/oauth_token.do`,
    });
    // The built-in kinds are there too, in catalogue order.
    assert.deepEqual(res.json.filter((g: { preset: unknown }) => g.preset !== null).map((g: { alias: string | null; grantType: string }) => g.alias ?? g.grantType), ['client_credentials', 'password', 'authorization_code', 'jwt_bearer', 'device_code', 'toy']);
  });

  it('is a kind of application: the admin API creates one from its preset, with a curl that names the grant', async () => {
    const created = await admin.call('POST', '/applications', { name: 'Toy app', kind: 'toy' });
    assert.equal(created.status, 201, created.text);
    assert.deepEqual(created.json.application.grantTypes, [TOY_GRANT]);
    assert.match(created.json.curl, /-d grant_type=urn%3Aexample%3Aparams%3Aoauth%3Agrant-type%3Atoy -d 'ticket=<ticket>'/);
    app = { clientId: created.json.application.clientId, secret: created.json.clientSecret };
  });

  it('an application with the toy grant gets a token; the handler sees only its declared parameters and the common ones', async () => {
    await refreshCache(server);
    seen.params = undefined;
    const res = await tokenRequest(server.url, { form: { grant_type: TOY_GRANT, ticket: 't-1', colour: 'teal', smuggled: 'x', code: 'not-mine' }, basic: [app.clientId, app.secret] });
    assert.equal(res.status, 200, res.text);
    assert.match(String(res.json?.access_token), /^lk_at_/);
    assert.deepEqual(seen.params, { grant_type: TOY_GRANT, ticket: 't-1', colour: 'teal' });
  });

  it('a request without the required parameter is refused by the endpoint, with the description the grant gives; the handler never runs', async () => {
    seen.params = undefined;
    const res = await tokenRequest(server.url, { form: { grant_type: TOY_GRANT, colour: 'teal' }, basic: [app.clientId, app.secret] });
    assertOAuthError(res, 400, 'invalid_request');
    assert.equal(res.json?.error_description, 'The toy grant needs the ticket parameter.');
    await assertRefusal(server.latchkey.storage, res, 'request.missing_parameter');
    assert.equal(seen.params, undefined);
  });

  it('a grant switched off on the instance is refused before its parameters are checked (as before grant modules)', async () => {
    const ROPC_OFF = 'glide.oauth.inbound.ropc.grant_type.disabled';
    const created = await admin.call('POST', '/applications', { name: 'Password app', kind: 'password' });
    assert.equal((await admin.call('PUT', `/properties/${ROPC_OFF}`, { value: true })).status, 200);
    await refreshCache(server);
    const res = await tokenRequest(server.url, { form: { grant_type: 'password' }, basic: [created.json.application.clientId, created.json.clientSecret] });
    assertOAuthError(res, 400, 'unauthorized_client');
    await assertRefusal(server.latchkey.storage, res, 'grant.ropc_disabled');
    assert.equal((await admin.call('PUT', `/properties/${ROPC_OFF}`, { value: false })).status, 200);
    await refreshCache(server);
    const missing = await tokenRequest(server.url, { form: { grant_type: 'password' }, basic: [created.json.application.clientId, created.json.clientSecret] });
    assertOAuthError(missing, 400, 'invalid_request');
    assert.equal(missing.json?.error_description, 'The password grant needs the username and password parameters.');
  });

  it("is in the CLI's apps create --help (with --grant-module), and the CLI registers an application with it that gets a token", async () => {
    const help = await latchkeyCli(server.db, ['apps', 'create', '--help', '--grant-module', TOY_MODULE]);
    assert.match(help.stdout.replace(/\s+/g, ' '), /comma-separated grant types: client_credentials, password, refresh_token, authorization_code, jwt_bearer, device_code, token_exchange, toy \(stored as urn:ietf:params:oauth:grant-type:jwt-bearer, urn:ietf:params:oauth:grant-type:device_code, urn:ietf:params:oauth:grant-type:token-exchange, urn:example:params:oauth:grant-type:toy\)/);
    assert.match(help.stdout, /\n {2}toy: Toy\. A toy grant for the tests: trade a ticket for a token\. An application of this kind: --grants toy\n/);
    // Without the module, the CLI knows only the built-in grants.
    const plain = await latchkeyCli(server.db, ['apps', 'create', '--help']);
    assert.doesNotMatch(plain.stdout, /toy/);
    // LATCHKEY_GRANTS names the module as --grant-module does.
    const created = await run(process.execPath, [BIN, 'apps', 'create', '--name', 'Toy by CLI', '--grants', 'toy', '--json', '--db', server.db], { env: instanceEnv(server.db, { LATCHKEY_GRANTS: TOY_MODULE }), cwd: ROOT, timeoutMs: 20_000 });
    assert.equal(created.code, 0, created.stderr);
    const made = JSON.parse(created.stdout) as { clientId: string; clientSecret: string; grantTypes: string[] };
    assert.deepEqual(made.grantTypes, [TOY_GRANT]);
    await refreshCache(server);
    const res = await tokenRequest(server.url, { form: { grant_type: TOY_GRANT, ticket: 't-2' }, basic: [made.clientId, made.clientSecret] });
    assert.equal(res.status, 200, res.text);
  });

  it("is among the console's application kinds, in Chromium: the console reads them from GET /admin/api/v1/grants", { timeout: 120_000 }, async () => {
    const browser = await launchChromium();
    try {
      const context = await browser.newContext({ baseURL: server.url });
      const page = await context.newPage();
      page.setDefaultTimeout(20_000);
      await page.goto('/console/');
      await page.getByLabel('User name', { exact: true }).fill('admin');
      await page.getByLabel('Password', { exact: true }).fill(ADMIN_PASSWORD);
      await page.getByRole('button', { name: 'Sign in' }).click();
      // The built-in console asks for no consent: signing in leads straight to Home.
      await page.getByRole('heading', { level: 1, name: 'Home' }).waitFor();
      await page.goto('/console/#/applications');
      await page.getByRole('link', { name: 'New application' }).click();
      await page.getByRole('heading', { level: 1, name: 'New application' }).waitFor();
      // The toy grant's label and summary, as its descriptor gives them, beside the built-in kinds.
      const toy = page.getByRole('radio', { name: /^Toy/ });
      await toy.waitFor();
      assert.match(await page.locator('label.kind', { has: toy }).innerText(), /A toy grant for the tests: trade a ticket for a token\./);
      for (const kind of ['Client credentials', 'Password', 'Authorization code', 'JWT bearer']) await page.getByRole('radio', { name: new RegExp(`^${kind}`) }).waitFor();
      await toy.check();
      await page.getByLabel('Name', { exact: true }).fill('Toy from the console');
      await page.getByRole('button', { name: 'Create application' }).click();
      await page.getByRole('heading', { level: 1, name: 'Application created' }).waitFor();
      const clientId = (await page.getByTestId('client-id').innerText()).trim();
      const clientSecret = (await page.getByTestId('client-secret').innerText()).trim();
      await context.close();
      await refreshCache(server);
      const res = await tokenRequest(server.url, { form: { grant_type: TOY_GRANT, ticket: 't-3' }, basic: [clientId, clientSecret] });
      assert.equal(res.status, 200, res.text);
    } finally {
      await browser.close();
    }
  });
});

describe('loading grant modules', () => {
  it('refuses a catalogue naming a grant type twice', () => {
    assert.throws(() => createLatchkey({ storage: createMemoryStorage(), grants: [...BUILT_IN_GRANTS, toyGrant, toyGrant] }), /names the grant type "urn:example:params:oauth:grant-type:toy" twice/);
    const clash: GrantModule = { ...toyGrant, grantType: 'urn:example:other', alias: 'jwt_bearer' };
    assert.throws(() => createLatchkey({ storage: createMemoryStorage(), grants: [...BUILT_IN_GRANTS, clash] }), /names the grant type "jwt_bearer" twice/);
  });

  it('the CLI says clearly when the module is missing, exports nothing usable, or repeats a built-in grant type', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'latchkey-grants-'));
    const cli = (file: string) => run(process.execPath, [BIN, 'apps', 'create', '--help', '--grant-module', file], { cwd: ROOT, timeoutMs: 20_000 });
    const missing = await cli(join(dir, 'nope.js'));
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /^latchkey: the grant module .*nope\.js does not exist/);
    writeFileSync(join(dir, 'empty.mjs'), 'export const something = 1;\n');
    const empty = await cli(join(dir, 'empty.mjs'));
    assert.equal(empty.code, 1);
    assert.match(empty.stderr, /exports no grant modules: export default \[myGrant\]/);
    writeFileSync(join(dir, 'broken.mjs'), 'export default [{ grantType: "urn:x" }];\n');
    const broken = await cli(join(dir, 'broken.mjs'));
    assert.match(broken.stderr, /entry 1 \(urn:x\) has no label/);
    writeFileSync(join(dir, 'twice.mjs'), `import { toyGrant } from ${JSON.stringify(new URL('./fixtures/grants/toy-grant.js', import.meta.url).href)};\nexport const grants = [{ ...toyGrant, grantType: 'password', alias: undefined }];\n`);
    const twice = await cli(join(dir, 'twice.mjs'));
    assert.equal(twice.code, 1);
    assert.match(twice.stderr, /names the grant type "password" twice/);
    rmSync(dir, { recursive: true, force: true });
  });
});
