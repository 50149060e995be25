#!/usr/bin/env node
// Seeds a fresh database for benchmarks: an application user, a client-credentials application,
// the instance property switched on, and an application allowed to introspect. Prints
// {"clientId","clientSecret","introspectorId","introspectorSecret"} as JSON.
// Usage: node bench/seed.mjs <db-file> [--format opaque|jwt]
import { parseArgs } from 'node:util';
import { openStorage } from '../dist/src/storage/open.js';
import { bootstrap } from '../dist/src/registry/bootstrap.js';
import { createUser } from '../dist/src/registry/users.js';
import { createApplication } from '../dist/src/registry/applications.js';
import { setProperty } from '../dist/src/registry/settings.js';
import { BUILT_IN_GRANTS } from '../dist/src/grants/index.js';

const { values, positionals } = parseArgs({ allowPositionals: true, options: { format: { type: 'string', default: 'opaque' } } });
const db = positionals[0];
if (!db) {
  console.error('usage: node bench/seed.mjs <db-file> [--format opaque|jwt]');
  process.exit(2);
}
const storage = await openStorage(db);
const deps = { storage, clock: { now: () => Date.now() }, grants: BUILT_IN_GRANTS };
await bootstrap(deps, 'bench-admin-password');
await createUser(deps, { userName: 'svc-bench', roles: ['itil'] });
const { application, clientSecret } = await createApplication(deps, {
  name: 'Benchmark client',
  grantTypes: ['client_credentials'],
  appUser: 'svc-bench',
  tokenFormat: values.format,
});
const introspector = await createApplication(deps, { name: 'Benchmark resource server', grantTypes: [], canIntrospect: true });
await setProperty(deps, 'glide.oauth.inbound.client.credential.grant_type.enabled', 'true');
await storage.close();
process.stdout.write(
  JSON.stringify({
    clientId: application.clientId,
    clientSecret,
    introspectorId: introspector.application.clientId,
    introspectorSecret: introspector.clientSecret,
  }) + '\n',
);
