/**
 * The acceptance case for shared counters: two real `latchkey serve` processes over one
 * PostgreSQL database, an application limited to 5 requests a minute with the real CLI
 * (`apps update --rate-limit 5/1m`): three token requests at A and three at B, alternating, and the
 * sixth is refused with 429 wherever it lands; RateLimit-Remaining counts down across both. The
 * per-address limit (a property) holds across both the same way.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createFixture, latchkeyCli, spawnServer, type Fixture, type ServerProcess } from './helpers/instances.js';
import { basicHeader } from './helpers/oauth.js';
import { createTestDatabase, sql, type TestDatabase } from './helpers/postgres.js';

describe('rate limits across two `latchkey serve` processes over one PostgreSQL database', () => {
  let db: TestDatabase | undefined;
  let fx: Fixture;
  const servers: ServerProcess[] = [];

  async function token(s: ServerProcess, client: { clientId: string; clientSecret: string }) {
    const res = await fetch(`${s.url}/oauth_token.do`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basicHeader(client.clientId, client.clientSecret) },
      body: 'grant_type=client_credentials',
    });
    return { status: res.status, headers: res.headers, body: (await res.json()) as Record<string, unknown> };
  }

  before(async () => {
    db = await createTestDatabase();
    fx = await createFixture(db.url, 'limits');
    await latchkeyCli(db.url, ['apps', 'update', fx.cc.clientId, '--rate-limit', '5/1m']);
    const started = await Promise.allSettled([spawnServer('A', db.url), spawnServer('B', db.url)]);
    for (const s of started) if (s.status === 'fulfilled') servers.push(s.value);
    for (const s of started) if (s.status === 'rejected') throw s.reason;
  });

  after(async () => {
    await Promise.allSettled(servers.map((s) => s.stop(3_000)));
    await db?.drop();
  });

  it('an application limited to 5/1m: 3 requests at A and 3 at B, the sixth is refused (429) and recorded once', async () => {
    const [A, B] = servers as [ServerProcess, ServerProcess];
    const seen: { at: string; status: number; remaining: string | null }[] = [];
    let refusedId = '';
    for (let i = 0; i < 6; i++) {
      const s = i % 2 === 0 ? A : B;
      const r = await token(s, fx.cc);
      seen.push({ at: s.name, status: r.status, remaining: r.headers.get('ratelimit-remaining') });
      if (r.status === 429) {
        refusedId = r.headers.get('x-request-id') ?? '';
        assert.equal(r.body.error, 'too_many_requests');
        assert.ok(Number(r.headers.get('retry-after')) >= 1);
        assert.equal(r.headers.get('ratelimit-limit'), '5');
      }
    }
    assert.deepEqual(
      seen,
      [
        { at: 'A', status: 200, remaining: '4' },
        { at: 'B', status: 200, remaining: '3' },
        { at: 'A', status: 200, remaining: '2' },
        { at: 'B', status: 200, remaining: '1' },
        { at: 'A', status: 200, remaining: '0' },
        { at: 'B', status: 429, remaining: '0' },
      ],
      JSON.stringify(seen),
    );
    // The count is one row in the shared table, keyed by the application (never by what a caller sent).
    const rows = await sql<{ key: string; points: number }>('SELECT key, points FROM rate_limit_counters', [], db!.url);
    assert.deepEqual(rows.map((r) => [r.key, r.points]), [[`client:5:60:${fx.cc.id}`, 6]]);
    const explained = JSON.parse((await latchkeyCli(db!.url, ['explain', refusedId, '--json'])).stdout) as { reason: string; hint: string };
    assert.equal(explained.reason, 'rate_limit.client_exceeded');
    assert.match(explained.hint, /its own rate limit 5\/1m/);
    // Another application is not limited.
    assert.equal((await token(A, fx.cc2)).status, 200);
    assert.equal((await token(B, fx.cc2)).status, 200);
  });
});
