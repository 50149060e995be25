/**
 * `latchkey registration` through the real CLI (main() with a capturing IO) against the database of
 * a running test server (SQLite, or PostgreSQL in the PostgreSQL pass): a token created by the CLI
 * registers a client at the running server and is listed by id (never the token) with its uses
 * left; a policy set by the CLI is shown and restricts registrations; revoke stops the token;
 * remove is refused while a live token names the policy; reap --dry-run lists, reap deletes; the
 * tables fit 80 columns.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { IO } from '../src/cli/context.js';
import { newId } from '../src/core/crypto.js';
import { main } from '../src/cli/main.js';
import { refreshCache } from './helpers/oauth.js';
import { startTestServer, type TestServer } from './helpers/server.js';

interface Run {
  readonly code: number;
  readonly out: string;
  readonly err: string;
}

let server: TestServer;

async function cli(args: readonly string[]): Promise<Run> {
  let out = '';
  let err = '';
  const io: IO = { out: (t) => void (out += t), err: (t) => void (err += t), readStdin: async () => '' };
  const saved = process.env.COLUMNS;
  process.env.COLUMNS = '80';
  try {
    const code = await main(['node', 'latchkey', ...args, '--db', server.db], io);
    return { code, out, err };
  } finally {
    if (saved === undefined) delete process.env.COLUMNS;
    else process.env.COLUMNS = saved;
  }
}

async function register(token: string, body: Record<string, unknown>): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(`${server.url}/oauth/register`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: JSON.stringify(body) });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

/** Every line fits 80 columns, but the commands to paste (on lines of their own, never wrapped: the --db may be long). */
const fits = (text: string) => assert.deepEqual(text.split('\n').filter((l) => l.length > 80 && !l.startsWith('  latchkey ')), [], 'every line fits 80 columns');

describe('latchkey registration (CLI)', () => {
  before(async () => {
    server = await startTestServer();
  });
  after(async () => server.close());

  it('tokens create prints the token once (stdout alone) and a curl; the token registers a client; list shows ids and uses left', async () => {
    const created = await cli(['registration', 'tokens', 'create', '--uses', '2', '--expires', '1h', '--issuer', server.url]);
    assert.equal(created.code, 0, created.err);
    const token = created.out.trim();
    assert.match(token, /^lk_ia_[A-Za-z0-9_-]{43}$/);
    assert.match(created.err, /shown only once \(2 uses, expires \d{4}-/);
    assert.ok(created.err.includes(`curl -s -X POST ${server.url}/oauth/register -H 'Authorization: Bearer ${token}'`), created.err);
    const reg = await register(token, { client_name: 'From the CLI token', redirect_uris: ['http://127.0.0.1:8400/callback'], token_endpoint_auth_method: 'none' });
    assert.equal(reg.status, 201, JSON.stringify(reg.json));
    const list = await cli(['registration', 'tokens', 'list']);
    assert.equal(list.code, 0, list.err);
    assert.ok(!list.out.includes(token), 'the token is never listed');
    assert.match(list.out, /iat_[0-9a-z]{12}\s+active\s+1\s/);
    fits(list.out);
    const json = JSON.parse((await cli(['registration', 'tokens', 'list', '--json'])).out) as { id: string; usesLeft: number; state: string; hash?: string }[];
    assert.equal(json.length, 1);
    assert.deepEqual([json[0]?.usesLeft, json[0]?.state, json[0]?.hash], [1, 'active', undefined]);
    const revoked = await cli(['registration', 'tokens', 'revoke', json[0]?.id ?? '']);
    assert.equal(revoked.code, 0, revoked.err);
    assert.equal((await register(token, { client_name: 'After revoke', redirect_uris: ['http://127.0.0.1:8400/callback'] })).status, 401);
    const unknown = await cli(['registration', 'tokens', 'revoke', 'iat_000000000000']);
    assert.notEqual(unknown.code, 0);
    assert.match(unknown.err, /No initial access token has the id/);
    const bad = await cli(['registration', 'tokens', 'create', '--expires', '10']);
    assert.notEqual(bad.code, 0, 'a bare number is not a duration');
  });

  it('policies set/show/list restrict registrations; remove is refused while a live token names it', async () => {
    const set = await cli(['registration', 'policies', 'set', 'agents', '--auth-methods', 'none', '--redirect-hosts', '*.agents.example.com', '--description', 'AI agents']);
    assert.equal(set.code, 0, set.err);
    assert.match(set.out, /Redirect hosts\s+\*\.agents\.example\.com/);
    const typo = await cli(['registration', 'policies', 'set', 'agents', '--auth-methods', 'nonе']);
    assert.notEqual(typo.code, 0);
    const shown = JSON.parse((await cli(['registration', 'policies', 'show', 'agents', '--json'])).out) as { spec: Record<string, unknown>; description: string };
    assert.deepEqual(shown.spec, { authMethods: ['none'], redirectHosts: ['*.agents.example.com'] });
    assert.equal(shown.description, 'AI agents');
    const list = await cli(['registration', 'policies', 'list']);
    assert.match(list.out, /agents\s+any\s+any\s+\*\.agents\.example\.com\s+none/);
    fits(list.out);
    const token = (await cli(['registration', 'tokens', 'create', '--policy', 'agents'])).out.trim();
    const refused = await register(token, { client_name: 'Wrong host', redirect_uris: ['https://elsewhere.example.com/cb'], token_endpoint_auth_method: 'none' });
    assert.equal(refused.status, 400);
    assert.equal(refused.json.error, 'invalid_redirect_uri');
    const ok = await register(token, { client_name: 'Right host', redirect_uris: ['https://a.agents.example.com/cb'], token_endpoint_auth_method: 'none' });
    assert.equal(ok.status, 201, JSON.stringify(ok.json));
    const inUse = await cli(['registration', 'policies', 'remove', 'agents', '--yes']);
    assert.notEqual(inUse.code, 0);
    assert.match(inUse.err, /is named by the initial access token iat_/);
    const missingPolicy = await cli(['registration', 'tokens', 'create', '--policy', 'nope']);
    assert.notEqual(missingPolicy.code, 0);
    assert.match(missingPolicy.err, /No registration policy is named "nope"/);
  });

  it('reap --dry-run lists the unused registrations, reap deletes them', async () => {
    // Every registration so far is unused; --days 0 means off, so age them by the stored times.
    for (const r of await server.latchkey.storage.registrations.list()) {
      await server.latchkey.storage.registrations.update({ ...r, createdAt: r.createdAt - 40 * 86_400_000, lastUsedAt: null });
    }
    // An application made from a client ID metadata document 40 days ago and never used goes too.
    const [model] = (await server.latchkey.storage.applications.list()).filter((a) => a.origin === 'registration');
    assert.ok(model !== undefined);
    const old = Date.now() - 40 * 86_400_000;
    const documentUrl = 'https://agent.example.com/oauth/client.json';
    await server.latchkey.storage.applications.create({ ...model, id: newId(), clientId: documentUrl, name: 'Document agent', origin: 'metadata_document', createdAt: old, updatedAt: old });
    const dry = await cli(['registration', 'reap', '--dry-run']);
    assert.equal(dry.code, 0, dry.err);
    assert.match(dry.out, /^Would delete 2 registered clients unused for 30 days\n/);
    assert.match(dry.out, /\nWould also delete 1 client ID metadata document application never used\.\n/);
    assert.match(dry.out, /\(document\)/);
    fits(dry.out);
    assert.equal((await server.latchkey.storage.registrations.list()).length, 2);
    const real = await cli(['registration', 'reap', '--json']);
    const result = JSON.parse(real.out) as { deleted: number; dryRun: boolean; candidates: { kind: string; clientId: string }[] };
    assert.deepEqual([result.deleted, result.dryRun], [3, false]);
    assert.deepEqual(result.candidates.filter((c) => c.kind === 'metadata_document').map((c) => c.clientId), [documentUrl]);
    assert.equal(await server.latchkey.storage.applications.byClientId(documentUrl), undefined);
    assert.equal((await server.latchkey.storage.registrations.list()).length, 0);
    await refreshCache(server);
    assert.equal((await server.latchkey.storage.applications.list()).filter((a) => a.origin === 'registration').length, 0);
  });

  it('--help explains the modes and fits 80 columns', async () => {
    for (const args of [['registration'], ['registration', 'tokens', 'create'], ['registration', 'policies', 'set'], ['registration', 'reap']]) {
      const help = await cli([...args, '--help']);
      fits(help.out);
    }
    const top = await cli(['registration', '--help']);
    assert.match(top.out, /latchkey\.registration\.mode/);
  });
});
