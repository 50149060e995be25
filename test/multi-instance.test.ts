/**
 * Two real `latchkey serve` processes over one PostgreSQL database, as behind a load balancer:
 * tokens issued by one work at the other, revocations and deactivations made with the CLI reach
 * both within a second, and a refresh token raced across both is consumed exactly once.
 */
import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { after, before, describe, it } from 'node:test';
import { composeService } from './helpers/deploy.js';
import { ADMIN_PASSWORD, createFixture, INSTANCES_KEK, latchkeyCli, spawnServer, WHOAMI, type Fixture, type ServerProcess } from './helpers/instances.js';
import { bearerCall, exchange, jsonOf, keepAliveAgent, tokenCall, type Exchange } from './helpers/load.js';
import { createTestDatabase, sql, type TestDatabase } from './helpers/postgres.js';

/** The promise: a change made anywhere is in force on every instance within one second. */
const WITHIN_MS = 1000;

describe('two `latchkey serve` processes over one PostgreSQL database', () => {
  let db: TestDatabase | undefined;
  let fx: Fixture;
  const servers: ServerProcess[] = [];
  let A: ServerProcess;
  let B: ServerProcess;
  const agent = keepAliveAgent();
  const timings: Record<string, number> = {};

  const call = (s: ServerProcess, label: string, c: Parameters<typeof exchange>[3]) => exchange(agent, s.url, `${s.name} ${label}`, c);
  const whoami = (s: ServerProcess, token: string) => call(s, 'whoami', bearerCall(WHOAMI, token));

  async function ccToken(s: ServerProcess, client: { clientId: string; clientSecret: string }): Promise<string> {
    const r = await call(s, 'token', tokenCall({ grant_type: 'client_credentials' }, client));
    assert.equal(r.status, 200, `${s.name}: ${r.status} ${r.body ?? r.error}`);
    return String(jsonOf(r).access_token);
  }

  /** Polls `fn` every 10 ms (bounded) until `done`; returns the last exchange and when it ended. */
  async function until(fn: () => Promise<Exchange>, done: (x: Exchange) => boolean, timeoutMs = 3000): Promise<Exchange> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const x = await fn();
      if (done(x) || x.end >= deadline) return x;
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  /** Asserts the platform 401 invalid_token refusal with `reason`. */
  function assertInvalidToken(x: Exchange, reason: string): void {
    assert.equal(x.status, 401, `${x.label}: ${x.status} ${x.body ?? x.error}`);
    assert.match(String(x.headers?.['www-authenticate']), /error="invalid_token"/);
    assert.match(String(jsonOf(x)?.error?.detail), new RegExp(`^reason ${reason.replace('.', '\\.')}; request id `));
  }

  before(async () => {
    db = await createTestDatabase();
    fx = await createFixture(db.url, 'multi');
    // The instances of deploy/compose.yaml: its command and environment (access log on, JSON logs,
    // one issuer), with this test's database and secrets; the port and the loopback address come
    // from spawnServer's flags, which override the compose file's LATCHKEY_PORT and LATCHKEY_HOST.
    const instance = await composeService('latchkey-a', { POSTGRES_PASSWORD: 'unused', LATCHKEY_KEY_ENCRYPTION_KEY: INSTANCES_KEK, LATCHKEY_ADMIN_PASSWORD: ADMIN_PASSWORD });
    const env = { ...instance.environment, LATCHKEY_DB: db.url };
    const started = await Promise.allSettled([spawnServer('A', db.url, env, instance.command), spawnServer('B', db.url, env, instance.command)]);
    for (const s of started) if (s.status === 'fulfilled') servers.push(s.value);
    for (const s of started) if (s.status === 'rejected') throw s.reason;
    [A, B] = servers as [ServerProcess, ServerProcess];
    assert.notEqual(A.url, B.url);
  });

  after(async () => {
    await Promise.allSettled(servers.map((s) => s.stop(3_000)));
    agent.destroy();
    await db?.drop();
    console.log(`# multi-instance: ms from CLI exit to refusal ${JSON.stringify(timings)}`);
  });

  it('a token issued by A works at B, and one issued by B works at A', async () => {
    const fromA = await ccToken(A, fx.cc);
    const atB = await whoami(B, fromA);
    assert.equal(atB.status, 200, atB.body);
    const result = jsonOf(atB).result;
    assert.equal(result.user, fx.serviceUser);
    assert.equal(result.authenticated_with, 'bearer');
    assert.deepEqual(result.application, { clientId: fx.cc.clientId, name: 'CC multi' });
    const fromB = await ccToken(B, fx.cc);
    assert.equal((await whoami(A, fromB)).status, 200);
  });

  it('`latchkey tokens revoke <token>`: refused at both instances within one second, other tokens unaffected', async () => {
    const t = await ccToken(A, fx.cc);
    const untouched = await ccToken(A, fx.cc);
    // Both instances have validated (and cached) the token before it is revoked.
    for (const s of [A, B]) for (const tok of [t, untouched]) assert.equal((await whoami(s, tok)).status, 200);
    await latchkeyCli(db!.url, ['tokens', 'revoke', t]);
    const exited = performance.now();
    const [atA, atB] = await Promise.all([A, B].map((s) => until(() => whoami(s, t), (x) => x.status !== 200)));
    for (const [name, x] of [['A', atA!], ['B', atB!]] as const) {
      const ms = Math.round(x.end - exited);
      timings[`tokens revoke @${name}`] = ms;
      assertInvalidToken(x, 'token.revoked');
      assert.ok(ms < WITHIN_MS, `${name} still accepted the revoked token ${ms} ms after the CLI exited`);
    }
    for (const s of [A, B]) assert.equal((await whoami(s, untouched)).status, 200, `${s.name}: an unrelated token stopped working`);
  });

  it('`latchkey apps update <id> --active false`: its tokens and its client refused at both within one second', async () => {
    const client = fx.cc2;
    const tokens = [await ccToken(A, client), await ccToken(B, client)];
    for (const s of [A, B]) for (const tok of tokens) assert.equal((await whoami(s, tok)).status, 200);
    await latchkeyCli(db!.url, ['apps', 'update', client.clientId, '--active', 'false']);
    const exited = performance.now();
    const polls = [A, B].flatMap((s) => [
      ...tokens.map((tok, i) => until(() => whoami(s, tok), (x) => x.status !== 200).then((x) => ({ what: `token ${i} @${s.name}`, x }))),
      until(() => call(s, 'token', tokenCall({ grant_type: 'client_credentials' }, client)), (x) => x.status !== 200).then((x) => ({ what: `token endpoint @${s.name}`, x })),
    ]);
    for (const { what, x } of await Promise.all(polls)) {
      const ms = Math.round(x.end - exited);
      timings[`apps --active false: ${what}`] = ms;
      if (what.startsWith('token endpoint')) {
        assert.equal(x.status, 401, `${what}: ${x.status} ${x.body ?? x.error}`);
        assert.equal(jsonOf(x)?.error, 'invalid_client');
        const [refusal] = await sql<{ reason: string }>('SELECT reason FROM refusals WHERE request_id = $1', [x.headers?.['x-request-id']], db!.url);
        assert.equal(refusal?.reason, 'client_auth.application_inactive');
      } else {
        assertInvalidToken(x, 'token.application_inactive');
      }
      assert.ok(ms < WITHIN_MS, `${what}: still served ${ms} ms after the CLI exited`);
    }
    // The other application is not affected.
    assert.equal((await whoami(B, await ccToken(A, fx.cc))).status, 200);
  });

  it('one refresh token used at A and B at the same moment: exactly one succeeds, the family is revoked as reuse', async () => {
    const ROUNDS = 5;
    const winners: Record<string, number> = { A: 0, B: 0 };
    // Warm both: keep-alive connections open and the client's secret verified, so the two
    // refresh requests below reach the servers as close together as possible.
    for (const s of [A, B]) assert.equal((await call(s, 'warm', tokenCall({ grant_type: 'refresh_token', refresh_token: 'lk_rt_unknown' }, fx.portal))).status, 400);
    for (let round = 0; round < ROUNDS; round++) {
      const first = await call(A, 'password', tokenCall({ grant_type: 'password', username: fx.user.name, password: fx.user.password }, fx.portal));
      assert.equal(first.status, 200, first.body);
      const rt = String(jsonOf(first).refresh_token);
      const racers = [A, B];
      const results = await Promise.all(racers.map((s) => call(s, 'refresh', tokenCall({ grant_type: 'refresh_token', refresh_token: rt }, fx.portal))));
      const ok = results.filter((x) => x.status === 200);
      const refused = results.filter((x) => x.status !== 200);
      assert.equal(ok.length, 1, `round ${round}: ${results.map((x) => `${x.label} ${x.status} ${x.body}`).join(' | ')}`);
      const winner = ok[0]!;
      const loser = refused[0]!;
      winners[winner.label.slice(0, 1)]!++;
      assert.equal(loser.status, 400, loser.body);
      assert.equal(jsonOf(loser).error, 'invalid_grant');
      const [refusal] = await sql<{ reason: string; hint: string | null }>('SELECT reason, hint FROM refusals WHERE request_id = $1', [loser.headers?.['x-request-id']], db!.url);
      assert.equal(refusal?.reason, 'refresh_token.reused', `round ${round}: the loser was not handled as reuse`);
      // The family is revoked: the winner's new refresh token is refused at either instance...
      const winnerBody = jsonOf(winner);
      const newRt = String(winnerBody.refresh_token);
      assert.notEqual(newRt, rt);
      const other = racers[round % 2]!;
      const again = await call(other, 'refresh', tokenCall({ grant_type: 'refresh_token', refresh_token: newRt }, fx.portal));
      assert.equal(again.status, 400, `round ${round}: the winner's new refresh token still works: ${again.body}`);
      assert.equal(jsonOf(again).error, 'invalid_grant');
      // ...and so is the winner's new access token, at both.
      for (const s of racers) assertInvalidToken(await until(() => whoami(s, String(winnerBody.access_token)), (x) => x.status !== 200, WITHIN_MS), 'token.revoked');
    }
    console.log(`# multi-instance: refresh race winners over ${ROUNDS} rounds ${JSON.stringify(winners)}`);
  });
});
