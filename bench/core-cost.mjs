#!/usr/bin/env node
// What one client-credentials token request costs the protocol core, in process: no HTTP, no load
// generator, so the figure is the endpoint's own CPU time, steadier than req/s on a shared machine
// and comparable between two builds run one after the other. See --help.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

const HELP = `Usage: taskset -c 1 node bench/core-cost.mjs [--mode M ...] [--format opaque|jwt] [--runs N] [--requests N]

CPU time per client-credentials token request (process.cpuUsage: user + system of every thread,
the WAL checkpoint worker included), 50 requests in flight, the median of --runs runs of
--requests requests each, on a fresh SQLite file opened as \`latchkey serve\` opens it.

Modes (several may be given; default: the first three, in this order):
  endpoint    the token endpoint with its storage: what a request costs before HTTP
  nostore     the token endpoint with the token insert answered at once: the endpoint's own work
  store       minting, the insert and its group commit, and the JSON body, without the endpoint
  introspect  RFC 7662 introspection of one active access token by a resource server (Basic)

Options:
  --format F    opaque (default) or jwt (ES256 access tokens)
  --runs N      runs per mode (default 12)
  --requests N  requests per run (default 10000)
  --help        this text

Pin it to one core (taskset -c 1), as the benchmark suite pins the server: the checkpoint worker
then shares the core, as it does in production. Builds compared with it must run on the same
machine one after the other; the figures of two machines are not comparable.`;

let args;
try {
  args = parseArgs({ options: { mode: { type: 'string', multiple: true }, format: { type: 'string', default: 'opaque' }, runs: { type: 'string', default: '12' }, requests: { type: 'string', default: '10000' }, help: { type: 'boolean' } } });
} catch (error) {
  console.error(`${error.message}\n\n${HELP}`);
  process.exit(2);
}
if (args.values.help) {
  console.log(HELP);
  process.exit(0);
}
const modes = args.values.mode ?? ['endpoint', 'nostore', 'store'];
const format = args.values.format;
const runs = Number(args.values.runs);
const requests = Number(args.values.requests);
const bad = modes.find((m) => !['endpoint', 'nostore', 'store', 'introspect'].includes(m));
if (bad !== undefined || !['opaque', 'jwt'].includes(format) || !(runs >= 1) || !(requests >= 100)) {
  console.error(`${bad !== undefined ? `unknown mode ${bad}` : 'bad --format, --runs or --requests'}\n\n${HELP}`);
  process.exit(2);
}

const { createLatchkey } = await import('../dist/src/app.js');
const { openSqliteStorage } = await import('../dist/src/storage/sqlite/adapter.js');
const { bootstrap } = await import('../dist/src/registry/bootstrap.js');
const { createUser } = await import('../dist/src/registry/users.js');
const { createApplication } = await import('../dist/src/registry/applications.js');
const { setProperty } = await import('../dist/src/registry/settings.js');
const { BUILT_IN_GRANTS } = await import('../dist/src/grants/index.js');
const { mintOpaque } = await import('../dist/src/core/crypto.js');
const { DEFAULT_WAL_LIMIT_BYTES } = await import('../dist/src/storage/sqlite/checkpointer.js');

const dir = mkdtempSync(join(tmpdir(), 'latchkey-core-cost-'));
const storage = openSqliteStorage({ path: join(dir, 'core.db'), backgroundCheckpoints: { walLimitBytes: DEFAULT_WAL_LIMIT_BYTES, onProblem: (m) => console.error(m) } });
const deps = { storage, clock: { now: () => Date.now() }, grants: BUILT_IN_GRANTS };
await bootstrap(deps, 'bench-admin-password');
const { user } = await createUser(deps, { userName: 'svc-bench' });
const { application, clientSecret } = await createApplication(deps, { name: 'Benchmark client', grantTypes: ['client_credentials'], appUser: 'svc-bench', tokenFormat: format });
const introspector = await createApplication(deps, { name: 'Benchmark resource server', grantTypes: [], canIntrospect: true });
await setProperty(deps, 'glide.oauth.inbound.client.credential.grant_type.enabled', 'true');
const latchkey = createLatchkey({ storage, kek: 'bench-key-encryption-key-0123456789abcdef', issuer: 'http://127.0.0.1:4000' });
await latchkey.start();

const insert = storage.tokens.insert.bind(storage.tokens);
const authorization = `Basic ${Buffer.from(`${application.clientId}:${clientSecret}`).toString('base64')}`;
const request = () => ({
  method: 'POST', path: '/oauth_token.do', query: new URLSearchParams(), headers: { authorization, 'content-type': 'application/x-www-form-urlencoded', host: '127.0.0.1:4000' },
  body: 'grant_type=client_credentials', contentType: 'application/x-www-form-urlencoded', remoteAddress: '127.0.0.1', requestId: 'bench',
});
const viaEndpoint = async () => {
  const r = await latchkey.tokenEndpoint.handle(request());
  if (r.status !== 200) throw new Error(`the token endpoint answered ${r.status}: ${r.body}`);
};
const introspectAuthorization = `Basic ${Buffer.from(`${introspector.application.clientId}:${introspector.clientSecret}`).toString('base64')}`;
let introspected;
const viaIntrospection = async () => {
  const r = await latchkey.introspectionEndpoint.handle({
    method: 'POST', path: '/oauth/introspect', query: new URLSearchParams(), headers: { authorization: introspectAuthorization, 'content-type': 'application/x-www-form-urlencoded', host: '127.0.0.1:4000' },
    body: introspected, contentType: 'application/x-www-form-urlencoded', remoteAddress: '127.0.0.1', requestId: 'bench',
  });
  if (r.status !== 200 || !r.body.startsWith('{"active":true')) throw new Error(`introspection answered ${r.status}: ${r.body}`);
};
// What the endpoint stores for a client-credentials token, minted and committed the same way.
const storeOnly = async () => {
  const now = Date.now();
  const { token, key } = mintOpaque('lk_at_', now);
  await insert([{ hash: key, kind: 'access', applicationId: application.id, userId: user.id, scopes: [], grantType: 'client_credentials', issuedAt: now, expiresAt: now + 1_800_000, familyId: key, audience: null, jkt: null }]);
  JSON.stringify({ access_token: token, token_type: 'Bearer', expires_in: 1800 });
};

async function cpuPerRequest(one) {
  const before = process.cpuUsage();
  let sent = 0;
  await Promise.all(Array.from({ length: 50 }, async () => {
    while (sent < requests) {
      sent++;
      await one();
    }
  }));
  const used = process.cpuUsage(before);
  return (used.user + used.system) / requests;
}

const median = (xs) => [...xs].sort((a, b) => a - b)[(xs.length - 1) >> 1];
const results = {};
for (const mode of modes) {
  storage.tokens.insert = mode === 'nostore' ? () => Promise.resolve() : insert;
  if (mode === 'introspect' && introspected === undefined) {
    const r = await latchkey.tokenEndpoint.handle(request());
    introspected = new URLSearchParams({ token: JSON.parse(r.body).access_token, token_type_hint: 'access_token' }).toString();
  }
  const one = mode === 'store' ? storeOnly : mode === 'introspect' ? viaIntrospection : viaEndpoint;
  await cpuPerRequest(one); // warm-up (JIT), not counted
  const xs = [];
  for (let i = 0; i < runs; i++) xs.push(await cpuPerRequest(one));
  results[mode] = { medianUs: Number(median(xs).toFixed(2)), minUs: Number(Math.min(...xs).toFixed(2)), runs: xs.map((x) => Number(x.toFixed(2))) };
  console.log(`${mode.padEnd(8)} ${format}: ${median(xs).toFixed(2)} µs CPU per request (median of ${runs}; min ${Math.min(...xs).toFixed(2)})`);
}
storage.tokens.insert = insert;
console.log(JSON.stringify({ kind: 'core-cost', format, requests, results }));
await latchkey.stop();
await storage.close();
rmSync(dir, { recursive: true, force: true });
