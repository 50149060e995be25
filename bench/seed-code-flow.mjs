#!/usr/bin/env node
// Seeds a fresh database for bench/code-flow.sh: a user with a password and a confidential
// application allowed authorization_code with scope openid and one redirect URI. Prints
// {"clientId","clientSecret","redirectUri","userName","password"} as JSON.
// Usage: node bench/seed-code-flow.mjs <db-file> <redirect-uri> <user-name> <password>
import { openStorage } from '../dist/src/storage/open.js';
import { bootstrap } from '../dist/src/registry/bootstrap.js';
import { createUser } from '../dist/src/registry/users.js';
import { createApplication } from '../dist/src/registry/applications.js';
import { BUILT_IN_GRANTS } from '../dist/src/grants/index.js';

const [db, redirectUri, userName, password] = process.argv.slice(2);
if (!db || !redirectUri || !userName || !password) {
  console.error('usage: node bench/seed-code-flow.mjs <db-file> <redirect-uri> <user-name> <password>');
  process.exit(2);
}
const storage = await openStorage(db);
const deps = { storage, clock: { now: () => Date.now() }, grants: BUILT_IN_GRANTS };
await bootstrap(deps, 'bench-admin-password');
await createUser(deps, { userName, password });
const { application, clientSecret } = await createApplication(deps, {
  name: 'Benchmark relying party',
  grantTypes: ['authorization_code'],
  redirectUris: [redirectUri],
  scopes: ['openid'],
});
await storage.close();
process.stdout.write(JSON.stringify({ clientId: application.clientId, clientSecret, redirectUri, userName, password }) + '\n');
