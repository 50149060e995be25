/**
 * The CLI's and the admin API's output (issue 13, item 8): tables that fit the terminal (wrapped,
 * never clipped), one duration syntax with a required unit, ISO 8601 UTC times in every
 * machine-readable answer. Through the real `bin/latchkey.js` (a pipe, a `COLUMNS`, and a real
 * terminal via script(1)) and over HTTP.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { renderRecord, renderTable, wrap } from '../src/cli/table.js';
import { formatDuration, parseDuration } from '../src/core/duration.js';
import { isTimeField } from '../src/core/timestamps.js';
import { adminToken, bearerClient, type AdminClient } from './helpers/admin.js';
import { buildFixture, CC_PROPERTY } from './helpers/fixture.js';
import { BIN } from './helpers/instances.js';
import { tokenRequest } from './helpers/oauth.js';
import { run } from './helpers/processes.js';
import { startTestServer, type TestServer } from './helpers/server.js';

const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;
const words = (text: string) => text.replace(/\s+/g, ' ').trim();

/**
 * A rendered table read back by column: each column's slices of every line (the header's dashes
 * give the offsets), in order. A wrapped cell is its column's lines, so a cell's text is in it.
 */
function columns(table: string): Map<string, string> {
  const lines = table.split('\n');
  const rule = lines[1] ?? '';
  const starts = [...rule.matchAll(/-+/g)].map((m) => m.index ?? 0);
  const out = new Map<string, string>();
  const body = lines.slice(2);
  const end = body.indexOf('');
  starts.forEach((start, i) => {
    const cut = (l: string) => l.slice(start, starts[i + 1] ?? l.length).trim();
    out.set(cut(lines[0] ?? ''), (end === -1 ? body : body.slice(0, end)).map(cut).filter((x) => x !== '').join(' '));
  });
  return out;
}
const squeezed = (text: string) => text.replace(/\s+/g, '');

function cleanEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('LATCHKEY_') && k !== 'COLUMNS') env[k] = v;
  return { ...env, LATCHKEY_ADMIN_PASSWORD: 'admin-password-for-tests', ...extra };
}

describe('tables', () => {
  const long = 'A note that is much longer than any terminal column would allow, with a fix to read in full: run latchkey apps update 0123456789abcdef0123456789abcdef --scopes orders.read,orders.write';

  it('keep their natural width when they fit, and wrap the widest columns to fit when they do not, cutting nothing', () => {
    const rows = [['glide.oauth.inbound.client.credential.grant_type.enabled', 'false', long], ['short', 'true', 'short note']];
    const narrow = renderTable(['NAME', 'VALUE', 'DESCRIPTION'], rows, 80);
    const lines = narrow.trimEnd().split('\n');
    assert.ok(lines.every((l) => l.length <= 80), narrow);
    assert.ok(lines.length > 4, 'wrapped onto more lines');
    // Every character of every cell is there: the column's lines joined give the cells back.
    const cols = columns(narrow);
    assert.ok(squeezed(cols.get('DESCRIPTION') ?? '').includes(squeezed(long)), narrow);
    assert.ok(squeezed(cols.get('NAME') ?? '').includes('glide.oauth.inbound.client.credential.grant_type.enabled'), narrow);
    for (const w of long.split(' ')) assert.ok(narrow.includes(w) || w.length > 30, `"${w}" is shown whole`);
    const wide = renderTable(['NAME', 'VALUE', 'DESCRIPTION'], rows, 400);
    assert.equal(wide.trimEnd().split('\n').length, 4, 'no wrapping when it fits');
    assert.ok(wide.includes(long), 'never clipped with …');
    assert.doesNotMatch(narrow + wide, /…/);
  });

  it('wrap at spaces first, then after a separator, and cut only a word with neither', () => {
    assert.deepEqual(wrap('one two three', 7), ['one two', 'three']);
    const url = 'https://login.example.com/realms/corp/protocol';
    const parts = wrap(url, 20);
    assert.equal(parts.join(''), url);
    assert.ok(parts.every((p) => p.length <= 20), parts.join(' | '));
    assert.ok(parts.slice(0, -1).every((p) => /[/.]$/.test(p)), `broken after separators: ${parts.join(' | ')}`);
    assert.deepEqual(wrap('0123456789abcdef', 6), ['012345', '6789ab', 'cdef']);
    const record = renderRecord([['Fix', long], ['Id', 'x']], 60);
    assert.ok(record.trimEnd().split('\n').every((l) => l.length <= 60), record);
    assert.equal(words(record.split('\nId')[0] ?? '').replace(/^Fix /, ''), long);
  });

  describe('through the real CLI', () => {
    let dir: string;
    let db: string;
    before(async () => {
      dir = mkdtempSync(join(tmpdir(), 'latchkey-output-'));
      db = join(dir, 'out.db');
      assert.equal((await run(process.execPath, [BIN, 'init', '--db', db], { env: cleanEnv() })).code, 0);
    });
    after(() => rmSync(dir, { recursive: true, force: true }));

    const cli = (args: readonly string[], env: NodeJS.ProcessEnv = {}) => run(process.execPath, [BIN, ...args, '--db', db], { env: cleanEnv(env), timeoutMs: 20_000 });

    it('fit 80 columns on a pipe, COLUMNS when set; the doctor finding and its fix are there in full', async () => {
      const piped = await cli(['properties', 'list']);
      assert.equal(piped.code, 0, piped.stderr);
      assert.ok(piped.stdout.split('\n').every((l) => l.length <= 80), piped.stdout);
      const json = JSON.parse((await cli(['properties', 'list', '--json'])).stdout) as { name: string; description: string }[];
      const cols = columns(piped.stdout);
      for (const p of json) {
        // Squeezed: a long word (a property name in the text) may break after one of its dots.
        assert.ok(squeezed(cols.get('DESCRIPTION') ?? '').includes(squeezed(p.description)), `in full: ${p.description}`);
        assert.ok(squeezed(cols.get('NAME') ?? '').includes(p.name), p.name);
      }
      const wide = await cli(['properties', 'list'], { COLUMNS: '200' });
      assert.ok(wide.stdout.split('\n').some((l) => l.length > 120) && wide.stdout.split('\n').every((l) => l.length <= 200));

      const doctor = await cli(['doctor']);
      const findings = JSON.parse((await cli(['doctor', '--json'])).stdout) as { detail: string; fix: string }[];
      assert.ok(findings.length > 0, 'a new instance has findings (the admin still has its first password)');
      const table = doctor.stdout.slice(0, doctor.stdout.indexOf('\nFixes:'));
      assert.ok(table.split('\n').every((l) => l.length <= 80), doctor.stdout);
      for (const f of findings) {
        assert.ok(squeezed(columns(table).get('DETAIL') ?? '').includes(squeezed(f.detail)), `the detail in full: ${f.detail}`);
        assert.ok(words(doctor.stdout).includes(words(f.fix)), `the fix in full: ${f.fix}`);
      }
    });

    it("fit a real terminal's width (script(1) gives the command a terminal of 100 columns)", async () => {
      const r = await run('script', ['-qec', `stty cols 100 rows 50; ${process.execPath} ${BIN} properties list --db ${db}`, '/dev/null'], { env: cleanEnv(), timeoutMs: 20_000 });
      assert.equal(r.code, 0, r.stderr);
      const lines = r.stdout.replace(/\r/g, '').split('\n');
      assert.ok(lines.some((l) => l.length > 80), 'wider than the pipe default');
      assert.ok(lines.every((l) => l.length <= 100), r.stdout);
    });

    it('durations: a unit is required (the refusal shows the fix), combinations work, and they are printed the same way', async () => {
      const bare = await cli(['apps', 'create', '--name', 'Bare', '--grants', 'client_credentials', '--access-token-lifespan', '1800']);
      assert.equal(bare.code, 2);
      assert.match(bare.stderr, /--access-token-lifespan takes a duration: a number with a unit \(s, m, h, d\), combinable largest first: 30s, 30m, 12h, 7d, 1h30m \(got "1800"\)\. A bare number has no unit: for 1800 seconds write 30m\./);
      const made = await cli(['apps', 'create', '--name', 'Lifespans', '--grants', 'password', '--access-token-lifespan', '1h30m', '--refresh-token-lifespan', '30d', '--json']);
      assert.equal(made.code, 0, made.stderr);
      const app = JSON.parse(made.stdout) as { clientId: string; accessTokenLifespan: number; refreshTokenLifespan: number };
      assert.deepEqual([app.accessTokenLifespan, app.refreshTokenLifespan], [5400, 30 * 86_400]);
      const shown = await cli(['apps', 'show', app.clientId]);
      assert.match(shown.stdout, /Access token lifespan\s+1h30m\n/);
      assert.match(shown.stdout, /Refresh token lifespan\s+30d\n/);
      assert.equal((await cli(['keys', 'rotate', '--prepublish', '600'])).code, 2);
      assert.equal((await cli(['audit', '--since', '90'])).code, 2);
      assert.equal((await cli(['audit', '--since', '1d12h'])).code, 0);
      for (const cmd of [['apps', 'create'], ['apps', 'update'], ['keys', 'rotate'], ['audit']]) {
        const help = await cli([...cmd, '--help']);
        assert.match(words(help.stdout), /a number with a unit \(s, m, h, d\)/, `${cmd.join(' ')} --help says the syntax`);
      }
    });

    it('--json times are ISO 8601 UTC text, under every time field, for every command that prints one', async () => {
      await cli(['users', 'create', 'times', '--roles', 'itil']);
      await cli(['properties', 'set', CC_PROPERTY, 'true']);
      await cli(['keys', 'rotate', '--now']);
      for (const args of [['users', 'list'], ['apps', 'list'], ['tokens', 'list', '--all'], ['keys', 'list'], ['audit'], ['idps', 'list'], ['users', 'locks']]) {
        const r = await cli([...args, '--json']);
        assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`);
        assertIsoTimes(JSON.parse(r.stdout), args.join(' '));
      }
    });
  });
});

describe('durations (core/duration.ts)', () => {
  it('parses units largest first and formats the same way', () => {
    const cases: [string, number][] = [['45s', 45], ['30m', 1800], ['12h', 43_200], ['7d', 604_800], ['1h30m', 5400], ['1d12h', 129_600], ['2H', 7200]];
    for (const [text, seconds] of cases) assert.deepEqual(parseDuration('--x', text), { ok: true, seconds }, text);
    for (const bad of ['', '30', '30 m', '30m1h', '1.5h', '-1h', 'h', '30mm', '1w']) assert.equal(parseDuration('--x', bad).ok, false, bad);
    assert.deepEqual([0, 45, 1800, 5400, 86_400, 8_640_000, 90_061].map(formatDuration), ['0s', '45s', '30m', '1h30m', '1d', '100d', '1d1h1m1s']);
  });
});

/** Every time field holds ISO text (or null); no number that looks like ms since the epoch is left anywhere. */
function assertIsoTimes(value: unknown, where: string, path = ''): void {
  if (Array.isArray(value)) {
    value.forEach((v, i) => assertIsoTimes(v, where, `${path}[${i}]`));
    return;
  }
  if (value === null || typeof value !== 'object') return;
  for (const [k, v] of Object.entries(value)) {
    const at = `${where} ${path}.${k}`;
    if (isTimeField(k)) assert.ok(v === null || (typeof v === 'string' && ISO.test(v)), `${at} = ${JSON.stringify(v)}`);
    if (typeof v === 'number') assert.ok(!(v > 1e12 && v < 1e13), `${at} = ${v} looks like a time in ms`);
    assertIsoTimes(v, where, `${path}.${k}`);
  }
}

describe('admin API times', () => {
  let server: TestServer;
  let admin: AdminClient;
  before(async () => {
    server = await startTestServer();
    await buildFixture(server, { users: [{ userName: 'svc', roles: ['itil'] }], properties: { [CC_PROPERTY]: 'true' }, apps: { cc: { name: 'Times', grantTypes: ['client_credentials'], appUser: 'svc' } } });
    admin = bearerClient(server, await adminToken(server));
    // A refusal and a counted failed password, so that those lists have rows.
    await tokenRequest(server.url, { form: { grant_type: 'password', username: 'svc', password: 'wrong' }, basic: ['nobody', 'nothing'] });
  });
  after(async () => server.close());

  it('are ISO 8601 UTC text in every answer (the activity series stay [minute in ms, count] pairs for charts)', async () => {
    for (const path of ['/session', '/applications', '/users', '/tokens?active=false', '/refusals', '/audit', '/keys', '/idps', '/locks', '/overview']) {
      const r = await admin.call('GET', path);
      assert.equal(r.status, 200, `${path}: ${r.text}`);
      assertIsoTimes(r.json, path);
    }
    const activity = await admin.call('GET', '/activity?hours=1');
    assert.equal(activity.status, 200);
    assert.equal(typeof activity.json.bucketMs, 'number');
    const apps = (await admin.call('GET', '/applications')).json as { createdAt: string }[];
    assert.ok(apps.length > 0 && apps.every((a) => ISO.test(a.createdAt) && Math.abs(Date.parse(a.createdAt) - Date.now()) < 600_000));
  });
});
