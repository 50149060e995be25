/**
 * The deployment kit in deploy/ (issue 13, item 9), exercised as far as this machine allows:
 * - the systemd unit: `systemd-analyze verify`, and `systemd-analyze security` under a threshold;
 * - the Dockerfile: the build stage's RUN steps run in a clean copy of the build context (what
 *   .dockerignore lets through), then the runtime stage's files are copied from that build as its
 *   COPY lines say, and started with its ENV, USER check, ENTRYPOINT/CMD, HEALTHCHECK and
 *   STOPSIGNAL (no Docker daemon here: the base images are the one thing not exercised);
 * - the compose file: two identical Latchkey services behind the nginx proxy over PostgreSQL
 *   (test/multi-instance.test.ts runs its instances with this file's command and environment).
 * Every LATCHKEY_ variable the kit sets is one the README's configuration table documents.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, isAbsolute, join, relative, sep } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ROOT } from './helpers/api.js';
import { commandOf, composeService, DEPLOY, envOf, readCompose, readDockerfile, type DockerStage } from './helpers/deploy.js';
import { run } from './helpers/processes.js';
import { freePort } from './helpers/ports.js';

let work: string;
before(() => {
  work = mkdtempSync(join(tmpdir(), 'latchkey-deploy-'));
});
after(() => rmSync(work, { recursive: true, force: true }));

const read = (file: string) => readFileSync(join(ROOT, file), 'utf8');

/** The LATCHKEY_ settings the README's configuration table names. */
function documentedSettings(): Set<string> {
  const readme = read('README.md');
  const table = readme.slice(readme.indexOf('## Configuration'), readme.indexOf('Instance properties'));
  return new Set([...table.matchAll(/`(LATCHKEY_[A-Z_]+)`/g)].map((m) => m[1] as string));
}

describe('systemd unit (deploy/latchkey.service)', () => {
  const unit = () => read('deploy/latchkey.service');
  const values = (key: string) => [...unit().matchAll(new RegExp(`^${key}=(.*)$`, 'gm'))].map((m) => (m[1] as string).trim());

  it('passes systemd-analyze verify', async () => {
    const r = await run('systemd-analyze', ['verify', join(DEPLOY, 'latchkey.service')], { timeoutMs: 30_000 });
    assert.equal(r.code, 0, r.stderr + r.stdout);
    assert.equal(r.stderr.trim(), '', r.stderr);
  });

  it('is hardened: a dynamic user, a read-only system but for the data folder, no new privileges; exposure at most 2.0', async () => {
    assert.deepEqual(values('DynamicUser'), ['yes']);
    assert.deepEqual(values('ProtectSystem'), ['strict']);
    assert.deepEqual(values('NoNewPrivileges'), ['yes']);
    assert.deepEqual(values('CapabilityBoundingSet'), ['']);
    const env = Object.fromEntries(values('Environment').map((v) => [v.slice(0, v.indexOf('=')), v.slice(v.indexOf('=') + 1)]));
    const dataDir = dirname(env.LATCHKEY_DB ?? '');
    assert.equal(dataDir, `/var/lib/${values('StateDirectory')[0]}`, 'the database lives in the StateDirectory');
    assert.deepEqual(values('ReadWritePaths'), [dataDir]);
    assert.match(values('ExecStart')[0] ?? '', /bin\/latchkey\.js serve$/);
    assert.equal(env.LATCHKEY_KEY_ENCRYPTION_KEY_FILE, '%d/kek', 'the key comes in as a credential, beside nothing');
    assert.match(values('LoadCredential')[0] ?? '', /^kek:\/etc\/latchkey\/kek$/);
    // systemd's own score of the sandbox (0 = locked down, 10 = exposed); --threshold is in tenths.
    const score = await run('systemd-analyze', ['security', '--offline=yes', '--threshold=20', join(DEPLOY, 'latchkey.service')], { timeoutMs: 30_000 });
    const level = Number(/Overall exposure level for latchkey\.service: (\d+\.\d)/.exec(score.stdout)?.[1]);
    assert.ok(level <= 2.0, `exposure ${level}`);
    assert.equal(score.code, 0, score.stdout.split('\n').slice(-3).join('\n'));
  });

  it('sets only documented settings', () => {
    const documented = documentedSettings();
    for (const name of values('Environment').map((v) => v.slice(0, v.indexOf('='))).filter((n) => n.startsWith('LATCHKEY_'))) assert.ok(documented.has(name), `${name} is not in the README's configuration table`);
  });
});

/** .dockerignore's patterns, matched as Docker does: against the path from the context's root. */
function dockerIgnored(): (rel: string) => boolean {
  const patterns = read('.dockerignore')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'))
    .map((p) => new RegExp(`^${p.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*').replace(/\?/g, '[^/]')}$`));
  return (rel) => {
    const parts = rel.split(sep);
    return parts.some((_, i) => patterns.some((p) => p.test(parts.slice(0, i + 1).join('/'))));
  };
}

describe('Dockerfile (deploy/Dockerfile)', { timeout: 15 * 60_000 }, () => {
  let stages: DockerStage[];
  let buildDir = '';
  let buildWorkdir = '/';

  before(() => {
    stages = readDockerfile();
  });

  it('has a build stage with the toolchain and a slim runtime stage that is not root', () => {
    assert.equal(stages.length, 2);
    const [build, runtime] = stages as [DockerStage, DockerStage];
    assert.equal(build.name, 'build');
    assert.match(build.from, /^node:20-bookworm$/, 'the full image: python3, make and g++ for the SQLite driver');
    assert.match(runtime.from, /^node:20-bookworm-slim$/);
    const user = runtime.instructions.find((i) => i.keyword === 'USER')?.args;
    assert.ok(user !== undefined && user !== 'root' && user !== '0', 'runs as a user other than root');
    assert.ok(runtime.instructions.some((i) => i.keyword === 'HEALTHCHECK' && /\/readyz/.test(i.args)));
    assert.ok(!runtime.instructions.some((i) => i.keyword === 'RUN' && /npm|apt-get/.test(i.args)), 'no toolchain in the runtime stage');
  });

  it('the build stage: its RUN steps in a clean copy of the build context produce the server and the console', { timeout: 12 * 60_000 }, async () => {
    const build = stages[0] as DockerStage;
    const ignored = dockerIgnored();
    let workdir = '/';
    for (const step of build.instructions) {
      if (step.keyword === 'WORKDIR') {
        workdir = step.args;
        buildWorkdir = workdir;
        buildDir = join(work, 'build', workdir);
        mkdirSync(buildDir, { recursive: true });
      } else if (step.keyword === 'COPY') {
        assert.equal(step.args, '. .', `line ${step.line}: the build stage copies the whole context`);
        cpSync(ROOT, buildDir, { recursive: true, filter: (src) => relative(ROOT, src) === '' || !ignored(relative(ROOT, src)) });
        assert.ok(!existsSync(join(buildDir, 'node_modules')) && !existsSync(join(buildDir, 'dist')), 'a clean copy: no node_modules, no dist');
      } else if (step.keyword === 'RUN') {
        const [cmd, ...args] = commandOf(step.args);
        const env: NodeJS.ProcessEnv = {};
        for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('LATCHKEY_')) env[k] = v;
        // The packages come from npm's cache where it has them (the machine ran npm ci already).
        env.npm_config_prefer_offline = 'true';
        const r = await run(cmd as string, args, { cwd: buildDir, env, timeoutMs: 10 * 60_000 });
        assert.equal(r.code, 0, `RUN ${step.args} (line ${step.line}) exited ${r.code}:\n${r.stderr.slice(-4000)}`);
      } else {
        assert.fail(`line ${step.line}: ${step.keyword} in the build stage is not exercised by this test`);
      }
    }
    for (const f of ['dist/src/cli/main.js', 'dist/console/index.html', 'node_modules/better-sqlite3/package.json']) assert.ok(existsSync(join(buildDir, f)), f);
    assert.ok(!existsSync(join(buildDir, 'node_modules', 'typescript')), 'npm prune --omit=dev left the devDependencies behind');
  });

  it('the runtime stage: its files, ENV and CMD serve; the HEALTHCHECK turns healthy; STOPSIGNAL drains and exits 0', { timeout: 2 * 60_000 }, async () => {
    assert.ok(buildDir !== '' && existsSync(join(buildDir, 'dist')), 'needs the build stage');
    const runtime = stages[1] as DockerStage;
    const rootfs = join(work, 'rootfs');
    let workdir = '/';
    /** A path in the image, as a path in this test's folder. */
    const at = (p: string) => join(rootfs, isAbsolute(p) ? p : join(workdir, p));
    const env: Record<string, string> = {};
    let user = '';
    let healthcheck: string[] = [];
    let entrypoint: string[] = [];
    let cmd: string[] = [];
    let stopSignal: NodeJS.Signals = 'SIGTERM';
    for (const step of runtime.instructions) {
      switch (step.keyword) {
        case 'ENV':
          for (const [k, v] of Object.entries(envOf(step.args))) env[k] = v.startsWith('/') ? at(v) : v;
          break;
        case 'WORKDIR':
          workdir = step.args;
          mkdirSync(at('.'), { recursive: true });
          break;
        case 'COPY': {
          const words = step.args.split(/\s+/);
          assert.equal(words[0], '--from=build', `line ${step.line}: the runtime stage copies from the build only`);
          const target = words.at(-1) as string;
          const dest = at(target);
          // Several sources, or a destination ending in /: into that folder; else to that path.
          const intoFolder = words.length > 3 || target.endsWith('/');
          for (const src of words.slice(1, -1)) {
            const from = join(buildDir, relative(buildWorkdir, src));
            assert.ok(existsSync(from), `line ${step.line}: ${src} is not in the build`);
            cpSync(from, intoFolder ? join(dest, src.split('/').at(-1) as string) : dest, { recursive: true, verbatimSymlinks: true });
          }
          break;
        }
        case 'RUN': {
          // install -d -m 700 -o node -g node <dir>: the folder, private; its owner is the USER below (no such user here).
          const m = /^install -d -m (\d+) -o (\S+) -g (\S+) (\S+)$/.exec(step.args);
          assert.ok(m !== null, `line ${step.line}: RUN ${step.args} is not exercised by this test`);
          const dir = at(m[4] as string);
          mkdirSync(dir, { recursive: true, mode: parseInt(m[1] as string, 8) });
          assert.equal(statSync(dir).mode & 0o777, 0o700);
          user = m[2] as string;
          break;
        }
        case 'USER':
          assert.equal(step.args, user, 'the data folder belongs to the user the server runs as');
          break;
        case 'VOLUME':
          assert.deepEqual((JSON.parse(step.args) as string[]).map(at), [dirname(env.LATCHKEY_DB ?? '')], 'the volume holds the database');
          break;
        case 'EXPOSE':
          assert.equal(step.args, env.LATCHKEY_PORT);
          break;
        case 'HEALTHCHECK':
          healthcheck = commandOf(step.args.slice(step.args.indexOf('CMD ') + 4).trim());
          break;
        case 'STOPSIGNAL':
          stopSignal = step.args as NodeJS.Signals;
          break;
        case 'ENTRYPOINT':
          entrypoint = commandOf(step.args);
          break;
        case 'CMD':
          cmd = commandOf(step.args);
          break;
        default:
          assert.fail(`line ${step.line}: ${step.keyword} is not exercised by this test`);
      }
    }
    assert.deepEqual([...entrypoint, ...cmd].slice(0, 3), ['node', 'bin/latchkey.js', 'serve']);
    const port = await freePort();
    // What `docker run -e …` gives: the two secrets; this test listens on loopback only.
    const processEnv = { PATH: process.env.PATH ?? '', HOME: work, ...env, LATCHKEY_HOST: '127.0.0.1', LATCHKEY_PORT: String(port), LATCHKEY_KEY_ENCRYPTION_KEY: 'deploy-test-key-encryption-key-0123456789', LATCHKEY_ADMIN_PASSWORD: 'deploy-test-admin-password' };
    const exe = (argv: string[]) => [argv[0] === 'node' ? process.execPath : (argv[0] as string), ...argv.slice(1)] as const;
    const [bin, ...args] = exe([...entrypoint, ...cmd]);
    const child = spawn(bin, args, { cwd: at('.'), env: processEnv, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => void (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => void (output += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const health = async () => {
      const [hb, ...ha] = exe(healthcheck);
      return (await run(hb, ha, { cwd: at('.'), env: processEnv, timeoutMs: 5_000 })).code;
    };
    try {
      let healthy = false;
      for (let i = 0; i < 60 && !healthy; i++) {
        healthy = (await health()) === 0;
        if (!healthy) await new Promise((r) => setTimeout(r, 500));
      }
      assert.ok(healthy, `the HEALTHCHECK never passed:\n${output}`);
      const base = `http://127.0.0.1:${port}`;
      assert.equal((await fetch(`${base}/console/`)).status, 200, 'the console was copied');
      assert.equal((await fetch(`${base}/api/now/v1/whoami`)).status, 401, 'the example API was copied and loaded');
      assert.ok(existsSync(env.LATCHKEY_DB ?? ''), 'the database is in the volume');
      assert.match(output, /"level":"info"[^\n]*"msg":"latchkey started"/, 'JSON logs (LATCHKEY_LOG_FORMAT=json)');
      child.kill(stopSignal);
      assert.equal(await exited, 0, output);
      assert.notEqual(await health(), 0, 'unhealthy once stopped');
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });

  it('sets only documented settings', () => {
    const documented = documentedSettings();
    for (const s of stages) for (const i of s.instructions.filter((x) => x.keyword === 'ENV')) for (const name of Object.keys(envOf(i.args)).filter((n) => n.startsWith('LATCHKEY_'))) assert.ok(documented.has(name), name);
  });
});

describe('compose file (deploy/compose.yaml)', () => {
  const vars = { POSTGRES_PASSWORD: 'pg-secret', LATCHKEY_KEY_ENCRYPTION_KEY: 'k'.repeat(44), LATCHKEY_ADMIN_PASSWORD: 'admin-secret' };

  it('two identical Latchkey services from the Dockerfile, over the postgres service, after it is healthy', async () => {
    const { services } = await readCompose();
    const latchkeys = Object.keys(services).filter((n) => services[n]?.build?.dockerfile === 'deploy/Dockerfile');
    assert.deepEqual(latchkeys, ['latchkey-a', 'latchkey-b']);
    const [a, b] = await Promise.all(latchkeys.map((n) => composeService(n, vars)));
    assert.deepEqual(b, a, 'the instances differ in nothing');
    assert.deepEqual(a?.command, ['serve']);
    const pg = services.postgres;
    assert.ok(pg !== undefined);
    assert.deepEqual(pg.healthcheck?.test.slice(0, 2), ['CMD', 'pg_isready']);
    for (const n of latchkeys) assert.equal(services[n]?.depends_on?.postgres?.condition, 'service_healthy');
    const url = new URL(a?.environment.LATCHKEY_DB ?? '');
    const pgEnv = (await composeService('postgres', vars)).environment;
    assert.deepEqual([url.hostname, url.username, decodeURIComponent(url.password), url.pathname.slice(1)], ['postgres', pgEnv.POSTGRES_USER, pgEnv.POSTGRES_PASSWORD, pgEnv.POSTGRES_DB]);
    assert.ok((a?.environment.LATCHKEY_KEY_ENCRYPTION_KEY ?? '').length >= 32);
  });

  it('refuses to start without its secrets (compose ${VAR:?…})', async () => {
    await assert.rejects(composeService('latchkey-a', {}), /compose\.yaml needs POSTGRES_PASSWORD/);
  });

  it('the proxy: nginx.conf sends to exactly the Latchkey services at their port, once they are healthy', async () => {
    const { services } = await readCompose();
    const proxy = services.proxy;
    assert.ok(proxy !== undefined && /^nginx:/.test(proxy.image ?? ''));
    assert.ok(proxy.volumes?.includes('./nginx.conf:/etc/nginx/nginx.conf:ro'));
    const conf = readFileSync(join(DEPLOY, 'nginx.conf'), 'utf8');
    const port = (await composeService('latchkey-a', vars)).environment.LATCHKEY_PORT;
    const upstream = /upstream latchkey \{([^}]*)\}/.exec(conf)?.[1] ?? '';
    assert.deepEqual([...upstream.matchAll(/server (\S+?):(\d+)/g)].map((m) => `${m[1]}:${m[2]}`), ['latchkey-a', 'latchkey-b'].map((n) => `${n}:${port}`));
    assert.match(conf, /proxy_pass http:\/\/latchkey;/);
    const listen = /listen (\d+);/.exec(conf)?.[1];
    assert.deepEqual(proxy.ports, [`8080:${listen}`]);
    assert.equal(proxy.depends_on?.['latchkey-a']?.condition, 'service_healthy');
    assert.equal(proxy.depends_on?.['latchkey-b']?.condition, 'service_healthy');
    const bodyLimit = Number(/client_max_body_size (\d+)k;/.exec(conf)?.[1]) * 1024;
    assert.ok(bodyLimit >= 16_384, 'the proxy lets Latchkey answer an oversized body itself');
  });

  it('sets only documented settings', async () => {
    const documented = documentedSettings();
    for (const name of Object.keys((await composeService('latchkey-a', vars)).environment)) assert.ok(documented.has(name), name);
  });
});
