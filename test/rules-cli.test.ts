/**
 * `latchkey rules` (report-only rules) through the real CLI (main() with a capturing IO, and the
 * binary itself where a terminal or its absence matters) against the database of a running test
 * server with the fixture APIs (SQLite, or PostgreSQL in the PostgreSQL pass): a rule added in
 * report mode is listed; a mistyped API is refused with the nearest; the calls it would refuse
 * succeed and leave real "would refuse" records, which `rules show` reports per client and
 * `explain` explains; `rules enforce` asks (exit 2 without a terminal and --yes), switches the mode
 * in one audited step as the CLI actor, and the running server then refuses; `rules report` and
 * `rules delete` undo it; a property rule enforced sets the property.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { cliActor } from '../src/audit/log.js';
import type { IO } from '../src/cli/context.js';
import { main } from '../src/cli/main.js';
import { apiCall, FIXTURE_APIS } from './helpers/api.js';
import { buildFixture, CC_PROPERTY, type Fixture } from './helpers/fixture.js';
import { BIN } from './helpers/instances.js';
import { tokenRequest } from './helpers/oauth.js';
import { run } from './helpers/processes.js';
import { startTestServer, type TestServer } from './helpers/server.js';

interface Run {
  readonly code: number;
  readonly out: string;
  readonly err: string;
  readonly asked: readonly string[];
}

interface RuleJson {
  readonly id: string;
  readonly kind: string;
  readonly target: string;
  readonly mode: string;
  readonly note: string | null;
  readonly createdBy: string;
  readonly createdAt: string;
  readonly enforcedBy: string | null;
  readonly summary: string;
}
interface ListedRule extends RuleJson {
  readonly requests: number;
  readonly clients: number;
  readonly since: string;
}
interface ShownRule {
  readonly rule: RuleJson;
  readonly days: number;
  readonly since: string;
  readonly total: number;
  readonly clients: readonly { clientId: string | null; applicationName: string | null; count: number; latestAt: string | null; latestRequestId: string | null; reason: string | null }[];
}

/** Prose wraps to the terminal: compared with its line breaks as spaces. */
const words = (text: string) => text.replace(/\s+/g, ' ');
const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

let server: TestServer;
let fx: Fixture<'job' | 'report'>;

/** Runs the CLI on the server's database; `terminal` makes standard input a terminal that answers with these lines. */
async function cli(args: readonly string[], options: { terminal?: readonly string[] } = {}): Promise<Run> {
  let out = '';
  let err = '';
  const asked: string[] = [];
  const answers = [...(options.terminal ?? [])];
  const io: IO = {
    out: (t) => void (out += t),
    err: (t) => void (err += t),
    readStdin: async () => '',
    interactive: options.terminal !== undefined,
    askLine: async (q) => {
      asked.push(q);
      return answers.shift() ?? '';
    },
  };
  const code = await main(['node', 'latchkey', ...args, '--db', server.db], io);
  return { code, out, err, asked };
}

async function json<T>(args: readonly string[]): Promise<T> {
  const r = await cli([...args, '--json']);
  assert.equal(r.code, 0, r.err);
  return JSON.parse(r.out) as T;
}

/** Calls `call` until `done` says yes (the server sees a change made by another process within its poll interval), at most 5 s. */
async function eventually<T>(call: () => Promise<T>, done: (value: T) => boolean): Promise<T> {
  const until = Date.now() + 5_000;
  for (;;) {
    const value = await call();
    if (done(value) || Date.now() > until) return value;
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function ccToken(clientId: string, secret: string): Promise<string> {
  const res = await tokenRequest(server.url, { basic: [clientId, secret], form: { grant_type: 'client_credentials' } });
  assert.equal(res.status, 200, res.text);
  return String(res.json?.access_token);
}

const echo = (token: string) => apiCall(server.url, { path: '/api/test/echo', bearer: token });

before(async () => {
  // Tables fit 80 columns unless COLUMNS says otherwise (src/cli/table.ts): these runs are on a pipe.
  delete process.env.COLUMNS;
  server = await startTestServer({ apisDir: FIXTURE_APIS, pollMs: 100 });
  fx = await buildFixture(server, {
    scopes: ['echo.read'],
    users: [{ userName: 'svc-rules' }],
    properties: { [CC_PROPERTY]: 'true' },
    apps: {
      job: { name: 'Nightly job', grantTypes: ['client_credentials'], appUser: 'svc-rules' },
      report: { name: 'Weekly report', grantTypes: ['client_credentials'], appUser: 'svc-rules' },
    },
  });
});

after(async () => server?.close());

describe('latchkey rules', { timeout: 120_000 }, () => {
  it('an api_requirement: added in report mode, listed, reported per client from real records, enforced (asked, audited), back to report, deleted', async () => {
    // A mistyped API is refused with the nearest one, and nothing is added.
    const typo = await cli(['rules', 'add', 'api_requirement', 'test/ecoh', '--scopes', 'echo.read', '--apis', FIXTURE_APIS]);
    assert.equal(typo.code, 1);
    assert.match(typo.err, /^latchkey: No hosted API test\/ecoh\. Did you mean "test\/echo"\?/);
    const typoResource = await cli(['rules', 'add', 'api_requirement', 'GET test/echo/items/{idx}', '--scopes', 'echo.read', '--apis', FIXTURE_APIS]);
    assert.equal(typoResource.code, 1);
    assert.match(typoResource.err, /has no resource GET \/items\/\{idx\}\. Did you mean "GET test\/echo\/items\/\{id\}"\?/);
    assert.deepEqual(await json<ListedRule[]>(['rules', 'list']), []);
    const empty = await cli(['rules', 'list']);
    assert.match(empty.out, /No rules yet/);
    assert.match(empty.out, /\n {2}latchkey rules add property latchkey\.api\.basic_auth\.enabled --value false/);

    const added = await cli(['rules', 'add', 'api_requirement', 'test/echo', '--scopes', 'echo.read', '--note', 'echo.read from next month', '--apis', FIXTURE_APIS]);
    assert.equal(added.code, 0, added.err);
    const id = /Added rule (rule_[0-9a-z]{12}) in report mode: test\/echo requires one of the scopes echo\.read\./.exec(words(added.out))?.[1];
    assert.ok(id !== undefined, added.out);
    assert.match(words(added.out), /succeed meanwhile, each recorded as "would refuse"/);
    assert.ok(added.out.includes(`  latchkey rules show ${id} --db `), added.out);
    assert.ok(added.out.includes(`  latchkey rules enforce ${id} --db `), added.out);

    const listed = await json<ListedRule[]>(['rules', 'list']);
    assert.equal(listed.length, 1);
    const [rule] = listed;
    assert.deepEqual([rule?.id, rule?.kind, rule?.target, rule?.mode, rule?.note, rule?.createdBy, rule?.requests, rule?.clients], [id, 'api_requirement', 'test/echo', 'report', 'echo.read from next month', cliActor(), 0, 0]);
    assert.match(rule?.createdAt ?? '', ISO);
    assert.match(rule?.since ?? '', ISO);
    const table = await cli(['rules', 'list']);
    assert.equal(table.code, 0, table.err);
    assert.match(table.out, new RegExp(`^${id}\\s+api_requirement\\s+report\\s`, 'm'));
    assert.match(table.out, new RegExp(`^ {2}${id}\\s+test/echo requires one of the scopes echo\\.read$`, 'm'));
    assert.ok(table.out.includes(`latchkey rules show ${id}`) && table.out.includes(`latchkey rules enforce ${id}`), table.out);
    // 80 columns on a pipe; a command to paste stays whole on its line.
    assert.ok(table.out.split('\n').every((l) => l.length <= 80 || l.startsWith('  latchkey ')), table.out);

    // Real traffic: the calls it would refuse succeed, and leave "would refuse" records with the rule.
    const tokens = { job: await ccToken(fx.apps.job.clientId, fx.apps.job.secret), report: await ccToken(fx.apps.report.clientId, fx.apps.report.secret) };
    for (const [who, token] of Object.entries(tokens)) {
      const clientId = fx.apps[who as 'job' | 'report'].clientId;
      const kept = await eventually(
        async () => {
          const res = await echo(token);
          assert.equal(res.status, 200, `a reporting rule refuses nothing: ${res.text}`);
          return server.latchkey.storage.refusals.list({ ruleId: id, outcome: 'would_refuse' });
        },
        (records) => records.some((r) => r.clientId === clientId),
      );
      assert.ok(kept.some((r) => r.clientId === clientId), `a "would refuse" record for ${who}`);
    }
    // The job calls more (the loop above may have called either more than once while its record was written).
    for (let i = 0; i < 3; i++) await echo(tokens.job);
    await server.latchkey.activity.flush();

    const shown = await json<ShownRule>(['rules', 'show', id]);
    assert.equal(shown.rule.id, id);
    assert.equal(shown.days, 7);
    assert.match(shown.since, ISO);
    assert.deepEqual(shown.clients.map((c) => c.clientId).sort(), [fx.apps.job.clientId, fx.apps.report.clientId].sort());
    const job = shown.clients.find((c) => c.clientId === fx.apps.job.clientId);
    assert.ok(job !== undefined);
    assert.equal(job.applicationName, 'Nightly job');
    assert.equal(job.reason, 'api.scope_missing');
    assert.ok(job.count >= 2, `every match counted: ${job.count}`);
    assert.match(job.latestAt ?? '', ISO);
    assert.ok(job.latestRequestId !== null);
    assert.equal(shown.total, shown.clients.reduce((n, c) => n + c.count, 0));
    const counts = shown.clients.map((c) => c.count);
    assert.deepEqual(counts, [...counts].sort((a, b) => b - a), 'most requests first');
    const report = shown.clients.find((c) => c.clientId === fx.apps.report.clientId);
    if (report !== undefined && job.count > report.count) assert.equal(shown.clients[0]?.clientId, fx.apps.job.clientId, 'most requests first');
    const explained = await json<{ outcome: string; reason: string; clientId: string; rule: { id: string } | null }>(['explain', job.latestRequestId]);
    assert.deepEqual([explained.outcome, explained.reason, explained.clientId, explained.rule?.id], ['would_refuse', 'api.scope_missing', fx.apps.job.clientId, id]);

    const text = await cli(['rules', 'show', id]);
    assert.equal(text.code, 0, text.err);
    assert.match(words(text.out), /Who would be refused and why, in the last 7 days \(since [^)]+\): \d+ requests of 2 clients, most first\./);
    // 80 columns (a pipe): no room for the request ids beside the client ids, so each is in its explain command below.
    assert.match(text.out, /CLIENT ID\s+APPLICATION\s+REQUESTS\s+LATEST AT\s+REASON\n/);
    assert.ok(text.out.split('\n').every((l) => l.length <= 80 || l.startsWith('  latchkey ')), text.out);
    assert.ok(text.out.includes(fx.apps.job.clientId) && text.out.includes(fx.apps.report.clientId), text.out);
    for (const c of shown.clients) assert.ok(text.out.includes(`  latchkey explain ${c.latestRequestId ?? ''} --db `), text.out);
    const wide = await run(process.execPath, [BIN, 'rules', 'show', id, '--db', server.db], { env: { ...process.env, COLUMNS: '200' }, timeoutMs: 20_000 });
    assert.equal(wide.code, 0, wide.stderr);
    assert.match(wide.stdout, /CLIENT ID\s+APPLICATION\s+REQUESTS\s+LATEST AT\s+REASON\s+LATEST REQUEST ID\n/);
    for (const c of shown.clients) assert.match(wide.stdout, new RegExp(`^${c.clientId}\\s+"?${c.applicationName}"?\\s+${c.count}\\s+${c.latestAt}\\s+api\\.scope_missing\\s+${c.latestRequestId}$`, 'm'));
    assert.ok(text.out.includes(`  latchkey rules enforce ${id}`), text.out);
    assert.equal((await cli(['rules', 'show', id, '--days', '0'])).code, 2);
    // One character off (never the id itself: a random id may already end in x).
    const offByOne = `${id.slice(0, -1)}${id.endsWith('x') ? 'y' : 'x'}`;
    const unknown = await cli(['rules', 'show', offByOne]);
    assert.equal(unknown.code, 1);
    assert.match(unknown.err, new RegExp(`No rule with id "${offByOne}"\\. Did you mean "${id}"\\?`));

    // Enforce: refused without a terminal and --yes (the real binary, CI, no stdin: it must not wait); asked on one.
    const ci = await run(process.execPath, [BIN, 'rules', 'enforce', id, '--db', server.db], { env: { ...process.env, CI: 'true' }, timeoutMs: 20_000 });
    assert.equal(ci.code, 2, ci.stderr);
    assert.match(ci.stderr, /Standard input is not a terminal, so nobody can answer and nothing was changed: pass --yes to enforce without asking\./);
    assert.match(ci.stderr, /it matched \d+ requests of 2 clients \("Nightly job", "Weekly report"\)/);
    const declined = await cli(['rules', 'enforce', id], { terminal: ['n'] });
    assert.equal(declined.code, 1);
    assert.match(declined.err, /Nothing was changed\./);
    assert.equal(declined.asked.length, 1);
    assert.match(declined.asked[0] ?? '', new RegExp(`^Enforce rule ${id} \\(test/echo requires one of the scopes echo\\.read\\)\\? In the last 7 days it matched \\d+ requests of 2 clients .*\\[y/N\\] $`));
    assert.equal((await json<ShownRule>(['rules', 'show', id])).rule.mode, 'report', 'nothing changed after a no');
    assert.deepEqual(await server.latchkey.storage.audit.list({ action: 'rule.enforce', target: id }), []);

    const enforced = await cli(['rules', 'enforce', id, '--yes']);
    assert.equal(enforced.code, 0, enforced.err);
    assert.match(words(enforced.out), new RegExp(`Enforced rule ${id}: test/echo requires one of the scopes echo\\.read\\. The rule now refuses calls to test/echo that lack what it requires\\.`));
    assert.ok(enforced.out.includes(`latchkey rules report ${id}`), enforced.out);
    const audit = await server.latchkey.storage.audit.list({ action: 'rule.enforce', target: id });
    assert.equal(audit.length, 1);
    assert.equal(audit[0]?.actor, cliActor());
    assert.match(audit[0]?.actor ?? '', /^cli(:|$)/);
    const after = await json<ShownRule>(['rules', 'show', id]);
    assert.equal(after.rule.mode, 'enforce');
    assert.equal(after.rule.enforcedBy, cliActor());
    // The running server, told only through the database, now refuses the call, naming the rule.
    const refused = await eventually(() => echo(tokens.report), (r) => r.status === 403);
    assert.equal(refused.status, 403, refused.text);
    const refusal = await server.latchkey.storage.refusals.byRequestId(refused.requestId);
    assert.equal(refusal?.reason, 'api.scope_missing');
    const again = await cli(['rules', 'enforce', id, '--yes']);
    assert.equal(again.code, 1);
    assert.match(again.err, /is enforced already/);

    // Back to report: the call succeeds again.
    const reported = await cli(['rules', 'report', id]);
    assert.equal(reported.code, 0, reported.err);
    assert.match(words(reported.out), new RegExp(`Rule ${id} reports again`));
    assert.equal((await eventually(() => echo(tokens.report), (r) => r.status === 200)).status, 200);
    assert.equal((await server.latchkey.storage.audit.list({ action: 'rule.report', target: id })).length, 1);

    // Delete: refused without a terminal and --yes, then done and audited.
    const scripted = await cli(['rules', 'delete', id]);
    assert.equal(scripted.code, 2);
    assert.match(scripted.err, /nothing was deleted: pass --yes/);
    const deleted = await json<{ deleted: string; id: string }>(['rules', 'delete', id, '--yes']);
    assert.deepEqual([deleted.deleted, deleted.id], ['rule', id]);
    assert.deepEqual(await json<ListedRule[]>(['rules', 'list']), []);
    const deletedAudit = await server.latchkey.storage.audit.list({ action: 'rule.delete', target: id });
    assert.equal(deletedAudit[0]?.actor, cliActor());
  });

  it('a property rule (latchkey.api.basic_auth.enabled false): reports, and enforcing it sets the property', async () => {
    const added = await json<RuleJson>(['rules', 'add', 'property', 'latchkey.api.basic_auth.enabled', '--value', 'false']);
    assert.deepEqual([added.kind, added.target, added.mode, added.summary], ['property', 'latchkey.api.basic_auth.enabled', 'report', 'latchkey.api.basic_auth.enabled = false']);
    type Property = { name: string; value: unknown };
    const basic = async () => (await json<Property[]>(['properties', 'list'])).find((p) => p.name === 'latchkey.api.basic_auth.enabled')?.value;
    assert.equal(await basic(), true, 'reporting changes nothing');
    const refusesNothing = await cli(['rules', 'add', 'property', 'latchkey.api.basic_auth.enabled', '--value', 'true']);
    assert.equal(refusesNothing.code, 1);
    assert.match(refusesNothing.err, /refuses nothing/);

    const enforced = await cli(['rules', 'enforce', added.id, '--yes']);
    assert.equal(enforced.code, 0, enforced.err);
    assert.match(words(enforced.out), /Property latchkey\.api\.basic_auth\.enabled is now false\./);
    assert.equal(await basic(), false);
    const shown = await cli(['rules', 'show', added.id]);
    assert.match(words(shown.out), /Enforcing did\s+Property latchkey\.api\.basic_auth\.enabled is now false\./);
    const back = await cli(['rules', 'report', added.id]);
    assert.equal(back.code, 1);
    assert.match(back.err, /applied its change when it was enforced/);
    const deleted = await cli(['rules', 'delete', added.id, '--yes']);
    assert.equal(deleted.code, 0, deleted.err);
    assert.match(words(deleted.out), /Its change stays/);
    assert.equal(await basic(), false, 'deleting the rule leaves the change');
    assert.equal((await cli(['properties', 'set', 'latchkey.api.basic_auth.enabled', 'true'])).code, 0);
  });

  it('properties set of a refusing switch says what it refuses now, and the rule that would have shown it first', async () => {
    const off = await cli(['properties', 'set', 'latchkey.client_auth.client_secret_post.enabled', 'false']);
    assert.equal(off.code, 0, off.err);
    assert.match(off.out, /This refuses clients sending their secret in the body .* from now on\. Next time, see who it would refuse first: latchkey rules add property latchkey\.client_auth\.client_secret_post\.enabled --value false/);
    const on = await cli(['properties', 'set', 'latchkey.client_auth.client_secret_post.enabled', 'true']);
    assert.equal(on.code, 0, on.err);
    assert.doesNotMatch(on.out, /Next time/);
  });

  it('--help shows every kind with an example, and the command is listed in latchkey --help', async () => {
    const help = await cli(['rules', 'add', '--help']);
    assert.equal(help.code, 0);
    for (const kind of ['api_requirement', 'property', 'application', 'rate_limit']) {
      assert.match(help.out, new RegExp(`^ {2}${kind} `, 'm'), `${kind} explained`);
      assert.match(help.out, new RegExp(`^ {2}latchkey rules add ${kind} \\S`, 'm'), `an example of ${kind}`);
    }
    const top = await cli(['--help']);
    assert.match(top.out, /^ {2}rules\s+Report-only rules/m);
    const badKind = await cli(['rules', 'add', 'api_requirment', 'test/echo']);
    assert.equal(badKind.code, 2);
    assert.match(badKind.err, /Allowed choices are api_requirement, property, application, rate_limit/);
  });
});
