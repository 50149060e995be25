import { DPOP_ALGS } from '../src/tokens/dpop.js';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { UnauthorizedError, type OAuthClientProvider } from '@modelcontextprotocol/sdk/client/auth.js';
import { StreamableHTTPClientTransport, StreamableHTTPError } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { OAuthClientInformationMixed, OAuthClientMetadata, OAuthTokens } from '@modelcontextprotocol/sdk/shared/auth.js';
import type { FetchLike } from '@modelcontextprotocol/sdk/shared/transport.js';
import type { IO } from '../src/cli/context.js';
import { main } from '../src/cli/main.js';
import { ROOT } from './helpers/api.js';
import { Browser, formFor, hasForm, type Page } from './helpers/browser.js';
import { startDocumentServer } from './helpers/document-server.js';
import { buildFixture, CC_PROPERTY } from './helpers/fixture.js';
import { tokenRequest } from './helpers/oauth.js';
import { waitForOutput } from './helpers/processes.js';
import { startTestServer, type TestServer } from './helpers/server.js';
import { freePort } from './helpers/ports.js';

/**
 * Issue 16's acceptance: the official @modelcontextprotocol/sdk client, with its OAuth support
 * (an OAuthClientProvider on the Streamable HTTP transport), connects to a hosted MCP server of a
 * running instance knowing nothing but the server's URL. It discovers everything from the first
 * 401 (resource_metadata → the server's RFC 9728 document → the authorization server's RFC 8414
 * metadata), registers (a client ID metadata document on a loopback https server; or RFC 7591
 * dynamic registration with an initial access token), signs a user in with PKCE S256 and the
 * `resource` of the MCP server, lists and calls a tool, and meets the step-up 403 on a tool whose
 * scope its client may not have, and a 403 on a tool needing a role its user lacks.
 *
 * The user's browser is the test: redirectToAuthorization drives the sign-in and consent pages over
 * HTTP and captures the redirect (nothing listens at the redirect URI). Every request the SDK makes
 * goes through a fetch wrapper that records it (and refuses anything but 127.0.0.1).
 */

const FIXTURE = join(ROOT, 'test', 'fixtures', 'mcp-client-apis');
const USER = 'mcp-sdk-user';
const PASSWORD = 'mcp-sdk-password-for-tests-1';
/** Nothing listens here: the redirect is captured from the authorization server's Location. */
const REDIRECT = 'http://127.0.0.1:4999/callback';
const CLIENT_INFO = { name: 'latchkey-sdk-client-test', version: '1.0.0' };

const docs = await startDocumentServer();
// The documents are on 127.0.0.1 (private network: allowed by the property) over TLS with a certificate made for the test (outboundCa).
const server: TestServer = await startTestServer({ apisDir: FIXTURE, allowPrivateNetworks: true, outboundCa: docs.certificate });
const clients: Client[] = [];
after(async () => {
  for (const c of clients) await c.close().catch(() => undefined);
  await server.close();
  await docs.close();
});
await buildFixture(server, { scopes: ['notes.read', 'notes.admin'], users: [{ userName: USER, password: PASSWORD }] });

const ENDPOINT = `${server.url}/mcp/acme/notes`;
const METADATA_URL = `${server.url}/.well-known/oauth-protected-resource/mcp/acme/notes`;
const asMetadata = (await (await fetch(`${server.url}/.well-known/oauth-authorization-server`)).json()) as Record<string, unknown>;
const REGISTRATION_ENDPOINT = typeof asMetadata.registration_endpoint === 'string' ? asMetadata.registration_endpoint : undefined;

/** One request the SDK made, and its answer. */
interface Exchange {
  readonly method: string;
  readonly url: URL;
  readonly headers: Headers;
  readonly body: string | undefined;
  readonly status: number;
  readonly responseHeaders: Headers;
  /** The answer's body, read from a clone (JSON bodies only). */
  readonly json: Promise<unknown>;
}

/** The SDK's fetch: records every exchange, refuses anything but the loopback address, and lets a test add headers (the initial access token). */
function observingFetch(log: Exchange[], addHeaders: (url: URL, headers: Headers) => void = () => undefined): FetchLike {
  return async (input, init) => {
    const url = new URL(String(input));
    assert.equal(url.hostname, '127.0.0.1', `the SDK reached for ${url.href}`);
    const headers = new Headers(init?.headers);
    addHeaders(url, headers);
    const body = typeof init?.body === 'string' ? init.body : init?.body instanceof URLSearchParams ? init.body.toString() : undefined;
    const res = await fetch(url, { ...init, headers, signal: init?.signal ?? AbortSignal.timeout(15_000) });
    const isJson = /json/.test(res.headers.get('content-type') ?? '');
    log.push({ method: init?.method ?? 'GET', url, headers, body, status: res.status, responseHeaders: res.headers, json: isJson ? res.clone().json().catch(() => undefined) : Promise.resolve(undefined) });
    return res;
  };
}

/** What the authorization server answered at the redirect URI: the code, or an error. */
type Answer = URLSearchParams;

/**
 * The user at the browser: the authorization request's sign-in page (unless signed in already),
 * then the consent page, Allow; or the authorization server's error redirect at any step.
 */
async function signInAndConsent(browser: Browser, url: string): Promise<Page> {
  let page = await browser.get(url);
  if (page.status === 303) return page;
  assert.equal(page.status, 200, `authorization page: ${page.status} ${page.text.slice(0, 500)}`);
  if (hasForm(page, 'sign_in')) {
    page = await browser.submit(url, formFor(page, 'sign_in'), { username: USER, password: PASSWORD });
    if (page.status === 303) return page;
    assert.equal(page.status, 200, `after sign-in: ${page.status} ${page.text.slice(0, 500)}`);
  }
  page = await browser.submit(url, formFor(page, 'consent'), { decision: 'allow' });
  assert.equal(page.status, 303, `after consent: ${page.status} ${page.text.slice(0, 500)}`);
  return page;
}

/** An OAuthClientProvider as an MCP host implements one, in memory; its "browser" is signInAndConsent. */
class TestProvider implements OAuthClientProvider {
  /** Every authorization URL the SDK sent the user to, and what came back at the redirect URI. */
  readonly authorizations: URL[] = [];
  readonly answers: Answer[] = [];
  readonly clientMetadataUrl: string | undefined;
  private information: OAuthClientInformationMixed | undefined;
  private saved: OAuthTokens | undefined;
  private verifier = '';
  private readonly browser = new Browser(server.url);

  constructor(
    private readonly metadata: OAuthClientMetadata,
    clientMetadataUrl?: string,
  ) {
    this.clientMetadataUrl = clientMetadataUrl;
  }

  get redirectUrl(): string {
    return REDIRECT;
  }
  get clientMetadata(): OAuthClientMetadata {
    return this.metadata;
  }
  state(): string {
    return `state-${this.authorizations.length + 1}`;
  }
  clientInformation(): OAuthClientInformationMixed | undefined {
    return this.information;
  }
  saveClientInformation(information: OAuthClientInformationMixed): void {
    this.information = information;
  }
  tokens(): OAuthTokens | undefined {
    return this.saved;
  }
  saveTokens(tokens: OAuthTokens): void {
    this.saved = tokens;
  }
  saveCodeVerifier(verifier: string): void {
    this.verifier = verifier;
  }
  codeVerifier(): string {
    return this.verifier;
  }
  async redirectToAuthorization(url: URL): Promise<void> {
    this.authorizations.push(url);
    const page = await signInAndConsent(this.browser, url.href);
    const location = new URL(page.location ?? '');
    assert.equal(`${location.origin}${location.pathname}`, REDIRECT, page.location);
    this.answers.push(location.searchParams);
  }
}

/**
 * The SDK's own sequence for a client that has never met the server: connect (the 401 starts the
 * authorization; redirectToAuthorization brings the code back; connect fails with
 * UnauthorizedError, as it does while a real browser is away), finishAuth(code), connect again.
 */
async function connectWithOAuth(provider: TestProvider, fetchFn: FetchLike): Promise<Client> {
  const first = new StreamableHTTPClientTransport(new URL(ENDPOINT), { authProvider: provider, fetch: fetchFn });
  await assert.rejects(new Client(CLIENT_INFO).connect(first), UnauthorizedError);
  const code = provider.answers.at(-1)?.get('code');
  assert.ok(typeof code === 'string' && code !== '', `no code: ${provider.answers.at(-1)?.toString()}`);
  assert.equal(provider.answers.at(-1)?.get('state'), 'state-1');
  await first.finishAuth(code);
  const transport = new StreamableHTTPClientTransport(new URL(ENDPOINT), { authProvider: provider, fetch: fetchFn });
  const client = new Client(CLIENT_INFO);
  clients.push(client);
  await client.connect(transport);
  return client;
}

const s256 = (verifier: string) => createHash('sha256').update(verifier).digest('base64url');

/** The recorded refusal behind an answer (its x-request-id). */
async function reasonOf(exchange: Exchange): Promise<string | undefined> {
  return (await server.latchkey.storage.refusals.byRequestId(exchange.responseHeaders.get('x-request-id') ?? ''))?.reason;
}

/**
 * Everything the brief asks of the connection, in the order the SDK did it: discovery from the
 * first 401, the authorization request (PKCE S256, resource, the scope the 401 named), the token
 * request (the verifier, the resource), then the tools: one listed and called, the role-gated one
 * refused with 403, the one needing notes.admin refused with the step-up 403, after which the SDK
 * asks the user again for notes.admin and the authorization server refuses it to this client.
 */
async function exerciseServer(provider: TestProvider, log: Exchange[], client: Client, clientId: string): Promise<void> {
  // 1. Discovery from the first 401: its challenge names the MCP server's own metadata and scope.
  const [first, prm, asm] = log;
  assert.deepEqual([first?.method, first?.url.href, first?.status], ['POST', ENDPOINT, 401]);
  assert.equal(first?.responseHeaders.get('www-authenticate'), `Bearer realm="latchkey", resource_metadata="${METADATA_URL}", scope="notes.read"`);
  assert.deepEqual([prm?.method, prm?.url.href, prm?.status], ['GET', METADATA_URL, 200]);
  assert.deepEqual(await prm?.json, { resource: ENDPOINT, authorization_servers: [server.url], scopes_supported: ['notes.read', 'notes.admin'], bearer_methods_supported: ['header'], dpop_signing_alg_values_supported: [...DPOP_ALGS], resource_name: 'Acme notes' });
  assert.deepEqual([asm?.url.href, asm?.status], [`${server.url}/.well-known/oauth-authorization-server`, 200]);

  // 2. The authorization request: PKCE S256, the MCP server's canonical URI as resource, the 401's scope.
  const authorization = provider.authorizations[0];
  assert.ok(authorization !== undefined);
  assert.equal(`${authorization.origin}${authorization.pathname}`, `${server.url}/oauth/authorize`);
  const q = authorization.searchParams;
  assert.deepEqual(
    [q.get('response_type'), q.get('client_id'), q.get('redirect_uri'), q.get('code_challenge_method'), q.get('resource'), q.get('scope')],
    ['code', clientId, REDIRECT, 'S256', ENDPOINT, 'notes.read'],
  );
  assert.match(q.get('code_challenge') ?? '', /^[A-Za-z0-9_-]{43}$/);

  // 3. The token request: the verifier of that challenge, the same resource, a public client (no secret).
  const tokenCall = log.find((e) => e.url.pathname === '/oauth/token');
  assert.ok(tokenCall !== undefined, 'no token request');
  assert.equal(tokenCall.status, 200);
  const form = new URLSearchParams(tokenCall.body ?? '');
  assert.equal(form.get('grant_type'), 'authorization_code');
  assert.equal(s256(form.get('code_verifier') ?? ''), q.get('code_challenge'));
  assert.equal(form.get('resource'), ENDPOINT);
  assert.equal(form.get('client_id'), clientId);
  assert.equal(tokenCall.headers.get('authorization'), null);
  const granted = (await tokenCall.json) as { scope?: string; token_type?: string };
  assert.deepEqual([granted.token_type, granted.scope], ['Bearer', 'notes.read']);

  // 4. The tools: listed, and the one notes.read admits called as the user.
  assert.equal(client.getServerVersion()?.name, 'Acme notes');
  const { tools } = await client.listTools();
  assert.deepEqual(tools.map((t) => t.name), ['notes_search', 'notes_purge', 'notes_audit']);
  const found = await client.callTool({ name: 'notes_search', arguments: { q: 'printers' } });
  assert.equal(found.isError, undefined);
  assert.deepEqual(found.structuredContent, { q: 'printers', notes: ['a note about printers'], user: USER, scopes: ['notes.read'] });
  const lastCall = log.at(-1);
  assert.match(lastCall?.headers.get('authorization') ?? '', /^Bearer \S+$/);

  // 5. A role the user lacks: 403 access_denied, no challenge (no token would do); the SDK gives up.
  await assert.rejects(client.callTool({ name: 'notes_audit', arguments: {} }), (e: unknown) => e instanceof StreamableHTTPError && e.code === 403);
  const audit = log.at(-1);
  assert.deepEqual([audit?.method, audit?.url.href, audit?.status, audit?.responseHeaders.get('www-authenticate')], ['POST', ENDPOINT, 403, null]);
  assert.equal(((await audit?.json) as { error?: { message?: string } })?.error?.message, 'The caller needs one of the roles: auditor.');
  assert.equal(audit === undefined ? undefined : await reasonOf(audit), 'api.role_missing');

  // 6. A scope the token lacks: the step-up 403 (insufficient_scope naming notes.admin and the metadata).
  const before = log.length;
  await assert.rejects(client.callTool({ name: 'notes_purge', arguments: {} }), (e: unknown) => e instanceof UnauthorizedError || (e instanceof StreamableHTTPError && e.code === 403));
  const stepUp = log.slice(before).find((e) => e.url.href === ENDPOINT && e.status === 403);
  assert.ok(stepUp !== undefined, 'no 403 from the MCP server');
  assert.equal(
    stepUp.responseHeaders.get('www-authenticate'),
    `Bearer realm="latchkey", error="insufficient_scope", resource_metadata="${METADATA_URL}", scope="notes.admin", error_description="The token needs one of the scopes: notes.admin."`,
  );
  assert.equal(await reasonOf(stepUp), 'api.scope_missing');
  // The SDK stepped up: a new authorization request for notes.admin, with PKCE and the resource again;
  // the client may not have notes.admin, so the authorization server says so at the redirect URI.
  assert.equal(provider.authorizations.length, 2);
  const again = provider.authorizations[1]!.searchParams;
  assert.deepEqual([again.get('scope'), again.get('resource'), again.get('code_challenge_method'), again.get('client_id')], ['notes.admin', ENDPOINT, 'S256', clientId]);
  assert.notEqual(again.get('code_challenge'), q.get('code_challenge'));
  assert.deepEqual([provider.answers[1]?.get('error'), provider.answers[1]?.get('code')], ['invalid_scope', null]);
  // No tool ran for a refused call: the server's last answer to the MCP endpoint was the 403.
  assert.equal(log.filter((e) => e.url.href === ENDPOINT).at(-1)?.status, 403);
}

/**
 * An initial access token for dynamic registration (RFC 7591 §3), one use. From the CLI as an
 * administrator would make one: `latchkey registration tokens create --uses 1 --json`.
 */
async function createInitialAccessToken(target: TestServer): Promise<string> {
  let out = '';
  let err = '';
  const io: IO = { out: (t) => void (out += t), err: (t) => void (err += t), readStdin: async () => '' };
  const code = await main(['node', 'latchkey', 'registration', 'tokens', 'create', '--uses', '1', '--json', '--db', target.db], io);
  assert.equal(code, 0, `registration tokens create: ${err}`);
  const made = JSON.parse(out) as Record<string, unknown>;
  const token = made.token;
  assert.ok(typeof token === 'string' && token !== '', `no token in ${Object.keys(made).join(', ')}`);
  return token;
}

describe('the official MCP SDK client against a hosted MCP server (OAuth from the first 401)', { timeout: 120_000 }, () => {
  it('registers through a client ID metadata document on a loopback https server', { timeout: 60_000 }, async () => {
    const clientMetadata: OAuthClientMetadata = {
      client_name: 'SDK agent (metadata document)',
      redirect_uris: [REDIRECT],
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
      scope: 'notes.read',
    };
    // A path on the document server: the SDK requires an https URL with a path; it is the client_id.
    const documentUrl = docs.document('/agents/sdk-agent/client.json', clientMetadata);
    assert.equal(asMetadata.client_id_metadata_document_supported, true);
    const log: Exchange[] = [];
    const provider = new TestProvider(clientMetadata, documentUrl);
    const client = await connectWithOAuth(provider, observingFetch(log));
    // No registration request: the URL is the client_id, and the instance fetched the document itself.
    assert.equal(log.some((e) => e.url.pathname === '/oauth/register'), false);
    assert.ok((docs.hits.get('/agents/sdk-agent/client.json') ?? 0) >= 1);
    assert.equal(provider.clientInformation()?.client_id, documentUrl);
    await exerciseServer(provider, log, client, documentUrl);
    // The client as materialized from the document: public, allowed notes.read only (its document's scope).
    const app = await server.latchkey.storage.applications.byClientId(documentUrl);
    assert.deepEqual([app?.public, app?.scopes], [true, ['notes.read']]);
  });

  it(
    'registers dynamically (RFC 7591) with an initial access token',
    { timeout: 60_000 },
    async () => {
      assert.ok(REGISTRATION_ENDPOINT !== undefined, 'the authorization server metadata names registration_endpoint (latchkey.registration.mode is token by default)');
      const registrationEndpoint = REGISTRATION_ENDPOINT;
      const iat = await createInitialAccessToken(server);
      const clientMetadata: OAuthClientMetadata = {
        client_name: 'SDK agent (dynamic registration)',
        redirect_uris: [REDIRECT],
        grant_types: ['authorization_code'],
        response_types: ['code'],
        token_endpoint_auth_method: 'none',
      };
      const log: Exchange[] = [];
      // RFC 7591 §3: the initial access token is a bearer token on the registration request, and only there.
      const fetchFn = observingFetch(log, (url, headers) => {
        if (url.href === registrationEndpoint) headers.set('authorization', `Bearer ${iat}`);
      });
      const provider = new TestProvider(clientMetadata);
      const client = await connectWithOAuth(provider, fetchFn);
      // Discovery went 401 → metadata → authorization server metadata → registration.
      const registration = log.find((e) => e.url.href === registrationEndpoint);
      assert.ok(registration !== undefined, 'no registration request');
      assert.equal(registration.method, 'POST');
      assert.equal(registration.headers.get('authorization'), `Bearer ${iat}`);
      assert.match(registration.headers.get('content-type') ?? '', /^application\/json/);
      const sent = JSON.parse(registration.body ?? '{}') as Record<string, unknown>;
      assert.deepEqual([sent.redirect_uris, sent.token_endpoint_auth_method, sent.scope], [[REDIRECT], 'none', 'notes.read']);
      // RFC 7591 §3.2.1: 201 Created with the client_id (and no secret for a public client).
      assert.equal(registration.status, 201);
      const registered = (await registration.json) as Record<string, unknown>;
      assert.ok(typeof registered.client_id === 'string' && registered.client_id !== '');
      assert.equal(registered.client_secret, undefined);
      assert.deepEqual(registered.redirect_uris, [REDIRECT]);
      assert.equal(provider.clientInformation()?.client_id, registered.client_id);
      // The token never went anywhere else.
      assert.equal(log.filter((e) => e.headers.get('authorization') === `Bearer ${iat}`).length, 1);
      await exerciseServer(provider, log, client, registered.client_id);
      // The initial access token had one use: registering again with it is refused (RFC 7591 §3: an RFC 6750 error).
      const replay = await fetch(registrationEndpoint, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${iat}` }, body: JSON.stringify(clientMetadata), signal: AbortSignal.timeout(10_000) });
      assert.equal(replay.status, 401, await replay.text());
    },
  );
});

/** The code block of docs/agents-and-mcp.md marked `<!-- example: name -->`. */
function docsExample(name: string): string {
  const doc = readFileSync(join(ROOT, 'docs', 'agents-and-mcp.md'), 'utf8');
  const marker = `<!-- example: ${name} -->\n\`\`\`js\n`;
  const start = doc.indexOf(marker);
  assert.notEqual(start, -1, `docs/agents-and-mcp.md has no block marked <!-- example: ${name} -->`);
  return doc.slice(start + marker.length, doc.indexOf('\n```', start + marker.length) + 1);
}

describe("the docs' external MCP server behind the middleware (docs/agents-and-mcp.md, run as written)", { timeout: 60_000 }, () => {
  let child: ChildProcess | undefined;
  // Inside the package, so that 'latchkey/express', 'express' and the SDK resolve as for a user's service.
  const file = join(ROOT, 'dist', 'test', `example-external-mcp-server-${process.pid}.mjs`);
  after(() => {
    child?.kill('SIGTERM');
    rmSync(file, { force: true });
  });

  it('serves its metadata, challenges with it, admits a token meant for it through the SDK client, and refuses the others', async () => {
    const port = await freePort();
    const resource = `http://127.0.0.1:${port}/mcp`;
    const { apps } = await buildFixture(server, {
      scopes: ['tools.use', 'tools.other'],
      users: [{ userName: 'svc-tools' }],
      properties: { [CC_PROPERTY]: 'true' },
      apps: {
        // JWTs for the service: their audience is its resource identifier.
        forService: { name: 'Tools caller', grantTypes: ['client_credentials'], appUser: 'svc-tools', scopes: ['tools.use', 'tools.other'], tokenFormat: 'jwt', audience: resource },
        forInstance: { name: 'Instance caller', grantTypes: ['client_credentials'], appUser: 'svc-tools', scopes: ['tools.use'], tokenFormat: 'jwt' },
      },
    });
    const token = async (app: 'forService' | 'forInstance', scope: string) => {
      const a = apps[app];
      const r = await tokenRequest(server.url, { form: { grant_type: 'client_credentials', scope }, basic: [a.clientId, a.secret] });
      assert.equal(r.status, 200, r.text);
      return String(r.json?.access_token);
    };
    writeFileSync(file, docsExample('external-mcp-server'));
    child = spawn(process.execPath, [file], { env: { ...process.env, LATCHKEY_ISSUER: server.url, MCP_RESOURCE: resource, PORT: String(port), HOST: '127.0.0.1' }, stdio: ['ignore', 'pipe', 'inherit'] });
    await waitForOutput(child, /listening on \d+/, 20_000);
    const base = `http://127.0.0.1:${port}`;

    // The first 401 names the service's own metadata, served by the service.
    const first = await fetch(`${base}/mcp`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    assert.equal(first.status, 401);
    const metadataUrl = `${base}/.well-known/oauth-protected-resource/mcp`;
    assert.equal(first.headers.get('www-authenticate'), `Bearer realm="api", resource_metadata="${metadataUrl}", scope="tools.use"`);
    const prm = await fetch(metadataUrl);
    assert.equal(prm.status, 200);
    assert.deepEqual(await prm.json(), { resource, authorization_servers: [server.url], scopes_supported: ['tools.use'], bearer_methods_supported: ['header'], dpop_signing_alg_values_supported: [...DPOP_ALGS], resource_name: 'Example tools' });

    // The SDK client with a token meant for the service: initialize, list, call.
    const connect = async (bearer: string) => {
      const client = new Client(CLIENT_INFO);
      clients.push(client);
      await client.connect(new StreamableHTTPClientTransport(new URL(resource), { requestInit: { headers: { authorization: `Bearer ${bearer}` } } }));
      return client;
    };
    const client = await connect(await token('forService', 'tools.use'));
    assert.deepEqual((await client.listTools()).tools.map((t) => t.name), ['whoami']);
    assert.deepEqual((await client.callTool({ name: 'whoami', arguments: {} })).content, [{ type: 'text', text: 'svc-tools (tools.use)' }]);

    // Without the scope: the step-up 403; a token for the instance's own APIs: 401 (not meant for this service).
    const lacking = await fetch(`${base}/mcp`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${await token('forService', 'tools.other')}` }, body: '{}' });
    assert.equal(lacking.status, 403);
    assert.match(lacking.headers.get('www-authenticate') ?? '', /^Bearer realm="api", error="insufficient_scope", resource_metadata="[^"]+\/\.well-known\/oauth-protected-resource\/mcp", scope="tools\.use", error_description="[^"]+"$/);
    await assert.rejects(connect(await token('forInstance', 'tools.use')), (e: unknown) => e instanceof StreamableHTTPError && e.code === 401);
    // The stateless server has no stream and no session.
    assert.equal((await fetch(`${base}/mcp`)).status, 405);
  });
});
