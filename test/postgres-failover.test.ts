/**
 * PostgreSQL failover under load (docs/high-availability.md): two clusters made here with the
 * machine's binaries (test/helpers/pg-cluster.ts), a primary with a synchronous streaming standby,
 * and a real `latchkey serve` whose LATCHKEY_DB lists both hosts. Under bounded load (token
 * requests and bearer API calls) the primary is stopped (pg_ctl stop -m immediate) and the standby
 * promoted a second later. Then:
 *  - during the switch the answers are 503 with Retry-After, never another 5xx, never slow;
 *  - the server finds the new primary by itself (no restart) and serves 200s again shortly after;
 *  - every token a client received before or during the switch is accepted after it, at this server
 *    and at a fresh one pointed at the new primary alone (synchronous replication: nothing lost);
 *  - /readyz says which host is in use and what the other is.
 * Without the binaries (or as root without a `postgres` user) it skips, except under CI=true,
 * where it fails. Bounded: load for 9 s, the whole file well under a minute.
 */
import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { ROOT } from './helpers/api.js';
import { run } from './helpers/processes.js';
import { BIN, createFixture, instanceEnv, spawnServer, WHOAMI, type Fixture, type ServerProcess } from './helpers/instances.js';
import { bearerCall, exchange, jsonOf, keepAliveAgent, largest, latencySummary, statusCounts, tokenCall, type Exchange } from './helpers/load.js';
import { pool } from './helpers/oauth.js';
import { findPgBinaries, startReplicatedPair, type PgBinaries, type ReplicatedPair } from './helpers/pg-cluster.js';
import { sql } from './helpers/postgres.js';

/** Each answer, 200 or 503, within this (the pool's connect timeout is 3 s; a failover must not come near it). */
const MAX_ANSWER_MS = 3000;
/** 200s again within this after the standby is promoted. */
const RECOVERY_MS = 5000;
const LOOPS = 12;
const LOAD_MS = 9000;
const SWITCH_AT = 2500;
/** From the primary's stop to `pg_ctl promote`. */
const PROMOTE_AFTER_MS = 1000;
const MAX_ITERATIONS = 2000;
const BAD_LOG = /"msg":"(token endpoint failed|API handler failed|request failed)"|uncaught|unhandled|"level":"fatal"/i;

const found = findPgBinaries();
const missing = typeof found === 'string' ? found : undefined;
const skip = missing !== undefined && process.env.CI !== 'true' ? `${missing}; this test makes its own PostgreSQL clusters` : false;

describe('PostgreSQL failover: primary stopped, standby promoted, under load', { skip, timeout: 110_000 }, () => {
  let pair: ReplicatedPair | undefined;
  let fx: Fixture;
  let url: string;
  const servers: ServerProcess[] = [];
  const agent = keepAliveAgent(64);
  const report: Record<string, unknown> = {};

  before(async () => {
    // Under CI the binaries are part of the image: their absence is a failure, not a skip.
    if (missing !== undefined) throw new Error(`CI=true, and the failover test cannot run: ${missing}`);
    pair = await startReplicatedPair(found as PgBinaries);
    await sql('CREATE DATABASE latchkey', [], pair.primary.url());
    // The standby streams synchronously before anything is written that must survive.
    const deadline = performance.now() + 20_000;
    for (;;) {
      const rows = await sql<{ sync_state: string }>('SELECT sync_state FROM pg_stat_replication', [], pair.primary.url());
      if (rows.some((r) => r.sync_state === 'sync')) break;
      assert.ok(performance.now() < deadline, `the standby is not a synchronous standby: ${JSON.stringify(rows)}\n${pair.standby.log()}`);
      await sleep(100);
    }
    url = `postgres://postgres@127.0.0.1:${pair.primary.port},127.0.0.1:${pair.standby.port}/latchkey?target_session_attrs=read-write`;
    // Seeded through the same multi-host URL, with the real CLI.
    fx = await createFixture(url, 'ha');
    servers.push(await spawnServer('HA', url));
  });

  after(async () => {
    await Promise.allSettled(servers.map((s) => s.stop(3_000)));
    agent.destroy();
    await pair?.destroy();
    console.log(`# postgres-failover: ${JSON.stringify(report, null, 1).replace(/\n\s*/g, ' ')}`);
  });

  it('503 + Retry-After during the switch, 200s again by itself, and every token handed out is still valid', async () => {
    const s = servers[0]!;
    const ready = await exchange(agent, s.url, 'readyz', { path: '/readyz' });
    assert.equal(ready.status, 200, ready.body);
    assert.deepEqual(jsonOf(ready).hosts.map((h: { host: string; role: string; inUse: boolean }) => [h.host, h.role, h.inUse]), [
      [`127.0.0.1:${pair!.primary.port}`, 'primary', true],
      [`127.0.0.1:${pair!.standby.port}`, 'standby', false],
    ]);

    const ccCall = () => tokenCall({ grant_type: 'client_credentials' }, fx.cc);
    const issued: string[] = [];
    const exchanges: Exchange[] = [];
    let stoppedAt = Infinity;
    /** Between these two no host takes writes: the primary is down, the standby not yet told to promote. */
    let downAt = Infinity;
    let promotingAt = Infinity;
    let promotedAt = Infinity;
    const t0 = performance.now();
    const failover = (async () => {
      await sleep(SWITCH_AT);
      stoppedAt = performance.now();
      const stopped = await pair!.primary.stop('immediate');
      assert.equal(stopped.code, 0, stopped.stderr);
      downAt = performance.now();
      // As a failover manager would: some time to decide before promoting.
      await sleep(PROMOTE_AFTER_MS);
      promotingAt = performance.now();
      const promoted = await pair!.standby.promote();
      assert.equal(promoted.code, 0, promoted.stderr);
      promotedAt = performance.now();
    })();
    const loops = Array.from({ length: LOOPS }, async () => {
      for (let i = 0; i < MAX_ITERATIONS && performance.now() - t0 < LOAD_MS; i++) {
        const t = await exchange(agent, s.url, 'token', ccCall());
        exchanges.push(t);
        if (t.status === 200) issued.push(String(jsonOf(t).access_token));
        // A bearer call with a token from some time ago (a database read unless cached), or the one just issued.
        const tok = issued.length === 0 ? undefined : issued[Math.floor(Math.random() * issued.length)];
        if (tok !== undefined) exchanges.push(await exchange(agent, s.url, 'whoami', bearerCall(WHOAMI, tok)));
      }
    });
    await Promise.all([...loops, failover]);
    assert.ok(promotedAt > stoppedAt && promotedAt < Infinity);

    const errors = exchanges.filter((x) => x.error !== undefined);
    assert.deepEqual(errors.map((x) => `${x.label}: ${x.error}`), [], 'transport errors');
    const slow = exchanges.filter((x) => x.ms >= MAX_ANSWER_MS);
    assert.deepEqual(slow.map((x) => `${x.label} ${x.status} after ${Math.round(x.ms)} ms`), [], 'answers slower than the bound');
    const other = exchanges.filter((x) => x.status !== 200 && x.status !== 503);
    assert.deepEqual(other.map((x) => `${x.label} ${x.status} ${x.body}`).slice(0, 5), [], 'statuses other than 200 and 503');
    const unavailable = exchanges.filter((x) => x.status === 503);
    for (const x of unavailable) {
      assert.match(String(x.headers?.['retry-after']), /^\d+$/, `${x.label} 503 without Retry-After`);
      if (x.label === 'token') assert.equal(jsonOf(x)?.error, 'temporarily_unavailable', x.body);
      else assert.equal(jsonOf(x)?.status, 'failure', x.body);
    }
    const before = exchanges.filter((x) => x.end <= stoppedAt);
    assert.ok(before.length > 50, `only ${before.length} exchanges before the switch`);
    assert.deepEqual(statusCounts(before), { 200: before.length }, 'before the switch');
    assert.ok(unavailable.some((x) => x.label === 'token' && x.end > stoppedAt), 'no token 503 during the switch');
    // No host took writes between the stop and the promotion: a token 200 in that window was never committed.
    const impossible = exchanges.filter((x) => x.label === 'token' && x.status === 200 && x.start > downAt && x.end < promotingAt);
    assert.deepEqual(impossible.map((x) => `+${Math.round(x.start - downAt)} ms`), [], 'token 200s while no host took writes');
    const refusedWhileDown = exchanges.filter((x) => x.label === 'token' && x.status === 503 && x.start > downAt && x.end < promotingAt);
    assert.ok(refusedWhileDown.length > 10, `only ${refusedWhileDown.length} token 503s while no host took writes`);
    // Recovery without a restart.
    const lastBad = largest(exchanges.filter((x) => x.status !== 200).map((x) => x.end));
    const recoveryMs = Math.round(lastBad - promotedAt);
    assert.ok(recoveryMs < RECOVERY_MS, `503s went on ${recoveryMs} ms after the standby was promoted`);
    const healthy = exchanges.filter((x) => x.start > lastBad);
    for (const label of ['token', 'whoami']) assert.ok(healthy.filter((x) => x.label === label).length >= 20, `too few ${label} 200s after recovery`);
    assert.ok(s.running(), `the server exited:\n${s.output().slice(-2000)}`);
    assert.equal(s.output().match(/"msg":"latchkey started"/g)?.length, 1, 'the server restarted');
    assert.doesNotMatch(s.output(), BAD_LOG);

    // /readyz names the new primary in use and the old one unreachable.
    const readyAfter = await exchange(agent, s.url, 'readyz', { path: '/readyz' });
    assert.equal(readyAfter.status, 200, readyAfter.body);
    const hosts = jsonOf(readyAfter).hosts as { host: string; role: string; inUse: boolean }[];
    assert.deepEqual(hosts.map((h) => [h.host, h.role, h.inUse]), [
      [`127.0.0.1:${pair!.primary.port}`, 'unreachable', false],
      [`127.0.0.1:${pair!.standby.port}`, 'primary', true],
    ]);

    // `latchkey doctor` through the same URL names the old primary as a host it cannot fail over to.
    const doctor = await run(process.execPath, [BIN, 'doctor', '--json', '--db', url], { env: instanceEnv(url), cwd: ROOT, timeoutMs: 20_000 });
    const finding = (JSON.parse(doctor.stdout) as { id: string; target?: string }[]).find((f) => f.id === 'database_host_unreachable');
    assert.equal(finding?.target, `127.0.0.1:${pair!.primary.port}`, doctor.stdout + doctor.stderr);

    // Not one token lost: every 200 validates here, and at a fresh server on the new primary alone.
    const validate = async (at: ServerProcess) =>
      (await pool(issued.length, 16, (i) => exchange(agent, at.url, 'validate', bearerCall(WHOAMI, issued[i]!)))).filter((x) => x.status !== 200);
    const lost = await validate(s);
    assert.deepEqual(lost.map((x) => `${x.status} ${x.body}`).slice(0, 5), [], `${lost.length} of ${issued.length} tokens do not validate at the server`);
    const fresh = await spawnServer('NEW', pair!.standby.url('latchkey'));
    servers.push(fresh);
    const lostFresh = await validate(fresh);
    assert.deepEqual(lostFresh.map((x) => `${x.status} ${x.body}`).slice(0, 5), [], `${lostFresh.length} of ${issued.length} tokens do not validate on the promoted standby`);

    // The old primary comes back as a primary (on its old timeline, beside the promoted standby):
    // the running server stays on the promoted one and /readyz, probing every host every 10 s, shows
    // both; a fresh process through the same URL (old primary listed first) picks the promoted one
    // too, and doctor reports the split.
    await pair!.primary.start();
    const both = async () => {
      const r = await exchange(agent, s.url, 'readyz', { path: '/readyz' });
      return (jsonOf(r).hosts as { host: string; role: string; inUse: boolean; timeline?: number }[]).map((h) => [h.host, h.role, h.inUse, h.timeline]);
    };
    const expectBoth = [
      [`127.0.0.1:${pair!.primary.port}`, 'primary', false, 1],
      [`127.0.0.1:${pair!.standby.port}`, 'primary', true, 2],
    ];
    const seenAt = Date.now();
    let seen = await both();
    while (JSON.stringify(seen) !== JSON.stringify(expectBoth) && Date.now() - seenAt < 15_000) {
      await new Promise((r) => setTimeout(r, 250));
      seen = await both();
    }
    assert.deepEqual(seen, expectBoth, 'the old primary is seen back, and not used');
    const tokenAfter = await exchange(agent, s.url, 'token', ccCall());
    assert.equal(tokenAfter.status, 200, tokenAfter.body);
    const split = await run(process.execPath, [BIN, 'doctor', '--json', '--db', url], { env: instanceEnv(url), cwd: ROOT, timeoutMs: 20_000 });
    const several = (JSON.parse(split.stdout) as { id: string; target?: string; detail: string }[]).find((f) => f.id === 'database_several_primaries');
    assert.equal(several?.target, `127.0.0.1:${pair!.primary.port}`, split.stdout + split.stderr);
    assert.match(several!.detail, new RegExp(`which Latchkey uses\\. .*Latchkey uses 127\\.0\\.0\\.1:${pair!.standby.port}, promoted later`));
    // The token issued after the old primary came back is on the promoted standby: the server on it alone accepts it.
    const afterOnFresh = await exchange(agent, fresh.url, 'validate', bearerCall(WHOAMI, String(jsonOf(tokenAfter).access_token)));
    assert.equal(afterOnFresh.status, 200, afterOnFresh.body);
    const seenMs = Date.now() - seenAt;

    const during = exchanges.filter((x) => x.end > stoppedAt && x.start < lastBad);
    report.failover = {
      exchanges: exchanges.length,
      statuses: statusCounts(exchanges),
      beforeSwitch: latencySummary(before),
      duringSwitch: { ...statusCounts(during), latency: latencySummary(during), max503Ms: Math.round(largest(unavailable.map((x) => x.ms))) },
      stopMs: Math.round(downAt - stoppedAt),
      promoteMs: Math.round(promotedAt - promotingAt),
      lastRefusalMsAfterPromotion: recoveryMs,
      tokensIssuedAndValidated: issued.length,
      oldPrimaryBackSeenMs: seenMs,
    };
  });
});
