/**
 * Fault tests with real `latchkey serve` processes over the machine's PostgreSQL:
 *  (a) the network to PostgreSQL is cut for two seconds under load (a TCP proxy in between):
 *      only prompt 503s with Retry-After, no other 5xx, no reset connections, no restart, full
 *      service again shortly after, and no token that was handed out is lost;
 *  (b) one of two instances is SIGKILLed under load: the other keeps serving and accepts every
 *      token either handed out;
 *  (c) SIGTERM drains: requests in flight complete and the process exits 0.
 * Loops are bounded in count and time; servers listen on 127.0.0.1 only.
 */
import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { createFixture, spawnServer, WHOAMI, type Fixture, type ServerProcess } from './helpers/instances.js';
import { bearerCall, exchange, jsonOf, keepAliveAgent, largest, latencySummary, statusCounts, tokenCall, type Exchange } from './helpers/load.js';
import { pool } from './helpers/oauth.js';
import { createTestDatabase, type TestDatabase } from './helpers/postgres.js';
import { startTcpProxy, type TcpProxy } from './helpers/tcp-proxy.js';

/** The pool waits this long for a connection before answering 503 (adapter default 3 s), plus slack. */
const MAX_ANSWER_MS = 4000;
const LOOPS = 20;
/** Every loop stops after this many iterations, whatever the clock says. */
const MAX_ITERATIONS = 1000;

/** Server log lines that mean something other than "storage unavailable" went wrong. */
const BAD_LOG = /"msg":"(token endpoint failed|API handler failed|request failed)"|uncaught|unhandled|FATAL|"level":"fatal"/i;

describe('faults: PostgreSQL cut, an instance killed, SIGTERM', () => {
  let db: TestDatabase | undefined;
  let fx: Fixture;
  const servers: ServerProcess[] = [];
  const proxies: TcpProxy[] = [];
  const agent = keepAliveAgent(64);
  const report: Record<string, unknown> = {};

  const start = async (name: string, url: string): Promise<ServerProcess> => {
    const s = await spawnServer(name, url);
    servers.push(s);
    return s;
  };
  const proxy = async (): Promise<TcpProxy> => {
    const p = await startTcpProxy({ port: Number(new URL(db!.url).port || 5432) });
    proxies.push(p);
    return p;
  };
  const ccCall = () => tokenCall({ grant_type: 'client_credentials' }, fx.cc);
  const issue = async (s: ServerProcess): Promise<string> => {
    const r = await exchange(agent, s.url, 'token', ccCall());
    assert.equal(r.status, 200, `${s.name}: ${r.status} ${r.body ?? r.error}`);
    return String(jsonOf(r).access_token);
  };

  /** Calls the API at `s` with every token (20 at a time); returns the failures. */
  async function validateAll(s: ServerProcess, tokens: readonly string[]): Promise<Exchange[]> {
    const results = await pool(tokens.length, 20, (i) => exchange(agent, s.url, 'validate', bearerCall(WHOAMI, tokens[i]!)));
    return results.filter((x) => x.status !== 200);
  }

  before(async () => {
    db = await createTestDatabase();
    fx = await createFixture(db.url, 'faults');
  });

  after(async () => {
    await Promise.allSettled(servers.map((s) => s.stop(3_000)));
    await Promise.allSettled(proxies.map((p) => p.close()));
    agent.destroy();
    await db?.drop();
    console.log(`# faults: ${JSON.stringify(report, null, 1).replace(/\n\s*/g, ' ')}`);
  });

  it('(a) PostgreSQL unreachable for 4 s under load: prompt 503s only, no restart, full service after, no lost token', async () => {
    const LOAD_MS = 8500;
    const CUT_AT = 2000;
    // Longer than the pool's 3 s connection timeout, so requests stalled on the black hole are
    // answered by that timeout rather than released by the restore.
    const CUT_FOR = 4000;
    const net = await proxy();
    const s = await start('P', net.via(db!.url));
    // Tokens issued and never validated at the API: each needs a database read to validate,
    // so the API calls made during the outage cannot be answered from memory.
    const reserve = await pool(200, 20, () => issue(s));
    const issued: string[] = [...reserve];
    // One token validated before the cut: how long does the cache keep accepting it?
    const cached = await issue(s);
    issued.push(cached);
    assert.equal((await exchange(agent, s.url, 'whoami', bearerCall(WHOAMI, cached))).status, 200);

    const exchanges: Exchange[] = [];
    const t0 = performance.now();
    // When the cut and the restore actually happened (timers may fire late under load).
    let cutAt = Infinity;
    let restoreAt = Infinity;
    const fault = (async () => {
      await sleep(CUT_AT);
      net.cut('blackhole');
      cutAt = performance.now();
      await sleep(CUT_FOR);
      net.restore();
      restoreAt = performance.now();
    })();
    // Beside the load: the cached token, every 50 ms through the outage.
    const cachedProbe: Exchange[] = [];
    const probe = (async () => {
      await sleep(CUT_AT);
      for (let i = 0; i < 200 && restoreAt === Infinity; i++) {
        cachedProbe.push(await exchange(agent, s.url, 'cached whoami', bearerCall(WHOAMI, cached)));
        await sleep(50);
      }
    })();
    const loops = Array.from({ length: LOOPS }, async () => {
      for (let i = 0; i < MAX_ITERATIONS && performance.now() - t0 < LOAD_MS; i++) {
        const t = await exchange(agent, s.url, 'token', ccCall());
        exchanges.push(t);
        let fresh: string | undefined;
        if (t.status === 200) {
          fresh = String(jsonOf(t).access_token);
          issued.push(fresh);
        } else {
          fresh = reserve.pop();
        }
        if (fresh !== undefined) exchanges.push(await exchange(agent, s.url, 'whoami', bearerCall(WHOAMI, fresh)));
      }
    });
    await Promise.all([...loops, fault, probe]);
    assert.ok(restoreAt > cutAt && restoreAt < Infinity);

    // Transport: Latchkey never reset or dropped a connection, never hung past the bound.
    const errors = [...exchanges, ...cachedProbe].filter((x) => x.error !== undefined);
    assert.deepEqual(errors.map((x) => `${x.label}: ${x.error}`), [], 'transport errors');
    const at = (t: number) => `${t >= cutAt ? '+' : ''}${Math.round(t - cutAt)} ms`;
    report.slowest = [...exchanges].sort((x, y) => y.ms - x.ms).slice(0, 5).map((x) => `${x.label} ${x.status} ${Math.round(x.ms)} ms from ${at(x.start)}`);
    const slow = exchanges.filter((x) => x.ms >= MAX_ANSWER_MS);
    assert.deepEqual(slow.map((x) => `${x.label} ${x.status} after ${Math.round(x.ms)} ms, started at ${at(x.start)} from the cut (restored at ${at(restoreAt)})`), [], 'answers slower than the bound');
    // Statuses: 200 or 503, nothing else (no 500, no 502, no 401 for a valid token).
    const other = [...exchanges, ...cachedProbe].filter((x) => x.status !== 200 && x.status !== 503);
    assert.deepEqual(other.map((x) => `${x.label} ${x.status} ${x.body}`), [], 'statuses other than 200 and 503');
    // Every 503 says so in the surface's JSON shape, with Retry-After.
    const unavailable = exchanges.filter((x) => x.status === 503);
    for (const x of unavailable) {
      assert.match(String(x.headers?.['retry-after']), /^\d+$/, `${x.label} 503 without Retry-After`);
      assert.match(String(x.headers?.['content-type']), /^application\/json/);
      const body = jsonOf(x);
      if (x.label === 'token') {
        assert.equal(body?.error, 'temporarily_unavailable', x.body);
        assert.equal(x.headers?.['cache-control'], 'no-store');
      } else {
        assert.equal(body?.status, 'failure', x.body);
        assert.equal(typeof body?.error?.message, 'string', x.body);
      }
    }
    // The outage was real, and only the outage produced 503s.
    const inOutage = (x: Exchange) => x.end > cutAt && x.start < restoreAt;
    const outage = exchanges.filter(inOutage);
    const before = exchanges.filter((x) => x.end <= cutAt);
    const afterRestore = exchanges.filter((x) => x.start >= restoreAt);
    assert.ok(before.length > 100, `only ${before.length} exchanges before the cut`);
    assert.deepEqual(statusCounts(before), { 200: before.length }, 'before the cut');
    for (const label of ['token', 'whoami']) {
      assert.ok(unavailable.some((x) => x.label === label && inOutage(x)), `no ${label} 503 during the outage`);
    }
    // Nothing can be issued or validated while the database is unreachable: a 200 for a request
    // that started after the cut and ended before the restore would be a token never committed,
    // or a token accepted without looking it up.
    const impossible = exchanges.filter((x) => x.status === 200 && x.start > cutAt + 20 && x.end < restoreAt);
    assert.deepEqual(impossible.map((x) => `${x.label} at +${Math.round(x.start - cutAt)} ms`), [], '200s while the database was unreachable');
    // Recovery: after the last refusal, full service, for both surfaces, without a restart.
    const lastBad = largest(exchanges.filter((x) => x.status !== 200).map((x) => x.end));
    const recoveryMs = Math.round(lastBad - restoreAt);
    assert.ok(recoveryMs < 3000, `503s went on ${recoveryMs} ms after the database came back`);
    const healthy = exchanges.filter((x) => x.start > lastBad);
    for (const label of ['token', 'whoami']) assert.ok(healthy.filter((x) => x.label === label).length >= 20, `too few ${label} calls after recovery`);
    assert.ok(s.running(), `the server exited:\n${s.output().slice(-2000)}`);
    assert.equal(s.output().match(/"msg":"latchkey started"/g)?.length, 1, 'the server restarted');
    assert.doesNotMatch(s.output(), BAD_LOG);
    assert.ok(net.stats.reset > 0, 'the cut reset no connection');

    // No lost token: every token that got a 200 validates, at this server and at a fresh one.
    const lost = await validateAll(s, issued);
    assert.deepEqual(lost.map((x) => `${x.status} ${x.body}`).slice(0, 5), [], `${lost.length} of ${issued.length} tokens do not validate at P`);
    const fresh = await start('V', db!.url);
    const lostFresh = await validateAll(fresh, issued);
    assert.deepEqual(lostFresh.map((x) => `${x.status} ${x.body}`).slice(0, 5), [], `${lostFresh.length} of ${issued.length} tokens do not validate at a fresh instance`);
    await fresh.stop();

    // How long a token validated before the cut was still accepted from memory while the database
    // was unreachable (a revocation made elsewhere meanwhile would go unseen that long).
    const fromMemory = cachedProbe.filter((x) => x.status === 200 && x.end < restoreAt);
    const lastFromMemory = fromMemory.length === 0 ? undefined : largest(fromMemory.map((x) => x.end));
    report.a = {
      exchanges: exchanges.length,
      statuses: statusCounts(exchanges),
      beforeCut: latencySummary(before),
      duringOutage: { ...statusCounts(outage), latency: latencySummary(outage), max503Ms: Math.round(largest(unavailable.map((x) => x.ms))) },
      afterRestore: latencySummary(afterRestore),
      lastRefusalMsAfterRestore: recoveryMs,
      tokensIssuedAndValidated: issued.length,
      proxy: { ...net.stats },
      cachedTokenAcceptedFromMemoryUntilMsIntoOutage: lastFromMemory === undefined ? 0 : Math.round(lastFromMemory - cutAt),
      cachedProbes: cachedProbe.map((x) => `${x.status}@${Math.round(x.start - cutAt)}..${Math.round(x.end - cutAt)}`).slice(-4),
    };
    // The one-second promise holds during a partition too: the cache stops being trusted once a
    // change check has hung for STALE_AFTER_MS (src/registry/cache.ts). 250 ms of slack for timers.
    assert.ok(lastFromMemory === undefined || lastFromMemory - cutAt < 1_250, `a cached token was accepted ${Math.round((lastFromMemory ?? cutAt) - cutAt)} ms into the outage`);
  });

  it('(b) one of two instances SIGKILLed under load: the other serves every request and accepts every token issued before', async () => {
    const LOAD_MS = 3000;
    const KILL_AT = 1500;
    const [k1, k2] = await Promise.all([start('K1', db!.url), start('K2', db!.url)]);
    const exchanges: Exchange[] = [];
    const issued: string[] = [];
    const t0 = performance.now();
    let killedAt = Infinity;
    const killer = (async () => {
      await sleep(KILL_AT);
      killedAt = performance.now();
      k1.kill('SIGKILL');
    })();
    // Half the loops on each instance; a loop whose instance fails moves to the survivor, as a
    // load balancer would.
    const loops = Array.from({ length: LOOPS }, async (_, n) => {
      let target = n % 2 === 0 ? k1 : k2;
      for (let i = 0; i < MAX_ITERATIONS && performance.now() - t0 < LOAD_MS; i++) {
        const t = await exchange(agent, target.url, `${target.name} token`, ccCall());
        exchanges.push(t);
        if (t.status !== 200) {
          if (target === k1 && t.start >= killedAt - 50) target = k2;
          continue;
        }
        const token = String(jsonOf(t).access_token);
        issued.push(token);
        const w = await exchange(agent, target.url, `${target.name} whoami`, bearerCall(WHOAMI, token));
        exchanges.push(w);
        if (w.status !== 200 && target === k1) target = k2;
      }
    });
    await Promise.all([...loops, killer]);
    const exit = await k1.exited;
    assert.equal(exit.signal, 'SIGKILL');

    const atK2 = exchanges.filter((x) => x.target === k2.url);
    const atK1 = exchanges.filter((x) => x.target === k1.url);
    assert.deepEqual(statusCounts(atK2), { 200: atK2.length }, 'the survivor answered something other than 200');
    assert.ok(atK2.filter((x) => x.start > killedAt).length > 50, 'too little load on the survivor after the kill');
    // K1 served normally until it was killed; after that its clients saw the connection go.
    const k1Before = atK1.filter((x) => x.end < killedAt);
    assert.deepEqual(statusCounts(k1Before), { 200: k1Before.length }, 'K1 before the kill');
    assert.ok(k1Before.length > 50);
    assert.ok(k2.running());
    assert.doesNotMatch(k2.output(), BAD_LOG);

    const lost = await validateAll(k2, issued);
    assert.deepEqual(lost.map((x) => `${x.status} ${x.body}`).slice(0, 5), [], `${lost.length} of ${issued.length} tokens do not validate at the survivor`);
    report.b = {
      survivor: { ...statusCounts(atK2), latency: latencySummary(atK2) },
      killed: { beforeKill: k1Before.length, afterKill: statusCounts(atK1.filter((x) => x.end >= killedAt)) },
      tokensIssuedByK1: atK1.filter((x) => x.label.endsWith('token') && x.status === 200).length,
      tokensValidatedAtSurvivor: issued.length,
    };
  });

  it('(c) SIGTERM with 20 requests in flight: all complete with 200, the process exits 0', async () => {
    const IN_FLIGHT = 20;
    const LATENCY_MS = 300;
    const net = await proxy();
    const s = await start('D', net.via(db!.url));
    // Exactly one connection per in-flight request, so the client keeps reusing them (as a load
    // balancer does) instead of opening new ones.
    const lb = keepAliveAgent(IN_FLIGHT);
    try {
      // Open the keep-alive connections and warm the caches (application, secret, properties).
      await pool(IN_FLIGHT, IN_FLIGHT, () => exchange(lb, s.url, 'warm', ccCall()));
      const tokens = await pool(IN_FLIGHT / 2, IN_FLIGHT / 2, () => issue(s));
      // Every database round trip now takes 2 x 300 ms, so the requests below are still in flight
      // when the signal arrives.
      net.setLatency(LATENCY_MS);
      let sent = 0;
      let everySent = () => undefined as void;
      const allSent = new Promise<void>((resolve) => (everySent = resolve));
      const onSent = () => {
        if (++sent === IN_FLIGHT) everySent();
      };
      const flight = Array.from({ length: IN_FLIGHT }, (_, i) =>
        i % 2 === 0
          ? exchange(lb, s.url, 'token', ccCall(), onSent)
          : exchange(lb, s.url, 'whoami', bearerCall(WHOAMI, tokens[(i - 1) / 2]!), onSent),
      );
      let finished = 0;
      for (const f of flight) void f.then(() => finished++);
      await allSent;
      await sleep(50);
      assert.equal(finished, 0, 'requests finished before the signal: nothing was in flight');
      const signalled = performance.now();
      s.kill('SIGTERM');
      const results = await Promise.all(flight);
      const lastAnswer = largest(results.map((x) => x.end));
      // A client that keeps sending token requests on the connections it still has (as a load
      // balancer does; bounded: 3 s, or until its connection is refused) must not hold the server
      // open: each is answered, with Connection: close, and the next finds the port closed.
      const followUp: Exchange[] = [];
      const keepSending = Array.from({ length: IN_FLIGHT }, async () => {
        for (let i = 0; i < 100 && performance.now() - signalled < 3000; i++) {
          const x = await exchange(lb, s.url, 'token after SIGTERM', ccCall());
          followUp.push(x);
          if (x.status === undefined) return;
        }
      });
      const exit = await Promise.race([s.exited, sleep(15_000).then(() => 'timeout' as const)]);
      const exited = performance.now();
      await Promise.all(keepSending);
      assert.deepEqual(results.map((x) => `${x.label} ${x.status ?? x.error}`), results.map((x) => `${x.label} 200`), 'in-flight requests');
      assert.notEqual(exit, 'timeout', `the server did not exit within 15 s of SIGTERM:\n${s.output().slice(-2000)}`);
      assert.deepEqual(exit, { code: 0, signal: null }, s.output().slice(-2000));
      assert.match(s.output(), /"msg":"stopped"/);
      assert.doesNotMatch(s.output(), BAD_LOG);
      // Requests sent during the drain were answered, or found the port closed: never a
      // connection dropped with a request on it.
      const dropped = followUp.filter((x) => x.status === undefined && x.error !== 'ECONNREFUSED');
      assert.deepEqual(dropped.map((x) => x.error), [], 'requests dropped during the drain');
      assert.deepEqual(followUp.filter((x) => x.status !== undefined && x.status !== 200).map((x) => `${x.status} ${x.body}`), []);
      for (const x of followUp.filter((f) => f.status === 200)) assert.equal(x.headers?.connection, 'close', 'a response during the drain kept the connection open');
      // The drain ends with the requests: not a keep-alive timeout (5 s) later.
      const lingered = Math.round(exited - lastAnswer);
      assert.ok(lingered < 3000, `the server exited ${lingered} ms after the last in-flight answer`);
      report.c = {
        inFlight: IN_FLIGHT,
        answeredAfterSignal: latencySummary(results.map((x) => ({ ...x, ms: x.end - signalled }))),
        exitAfterSignalMs: Math.round(exited - signalled),
        exitAfterLastInFlightAnswerMs: Math.round(exited - lastAnswer),
        requestsDuringDrain: statusCounts(followUp),
      };
    } finally {
      lb.destroy();
    }
  });
});
