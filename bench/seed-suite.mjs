#!/usr/bin/env node
// Seeds one database (SQLite file or postgres:// URL, migrated here) with everything bench/suite.mjs
// measures on Latchkey: a client-credentials application issuing opaque tokens and one issuing
// ES256 JWT access tokens (both acting as the application user svc-bench), an application allowed
// to introspect, a user with a password, and a confidential relying party allowed
// authorization_code + refresh_token (scope openid, one redirect URI). Prints the credentials as
// one JSON line.
// Usage: node bench/seed-suite.mjs <db> <redirect-uri> <user-name> <password>
import { openStorage } from '../dist/src/storage/open.js';
import { bootstrap } from '../dist/src/registry/bootstrap.js';
import { createUser } from '../dist/src/registry/users.js';
import { createApplication } from '../dist/src/registry/applications.js';
import { setProperty } from '../dist/src/registry/settings.js';
import { BUILT_IN_GRANTS } from '../dist/src/grants/index.js';

const [db, redirectUri, userName, password] = process.argv.slice(2);
if (!db || !redirectUri || !userName || !password) {
  console.error('usage: node bench/seed-suite.mjs <db> <redirect-uri> <user-name> <password>');
  process.exit(2);
}
const storage = await openStorage(db);
const deps = { storage, clock: { now: () => Date.now() }, grants: BUILT_IN_GRANTS };
await bootstrap(deps, 'bench-admin-password');
await createUser(deps, { userName: 'svc-bench', roles: ['itil'] });
await createUser(deps, { userName, password });
const cc = (name, tokenFormat) => createApplication(deps, { name, grantTypes: ['client_credentials'], appUser: 'svc-bench', tokenFormat });
const opaque = await cc('Benchmark client (opaque)', 'opaque');
const jwt = await cc('Benchmark client (JWT)', 'jwt');
const introspector = await createApplication(deps, { name: 'Benchmark resource server', grantTypes: [], canIntrospect: true });
const rp = await createApplication(deps, {
  name: 'Benchmark relying party',
  grantTypes: ['authorization_code', 'refresh_token'],
  redirectUris: [redirectUri],
  scopes: ['openid'],
});
await setProperty(deps, 'glide.oauth.inbound.client.credential.grant_type.enabled', 'true');
await storage.close();
const pair = (a) => ({ clientId: a.application.clientId, clientSecret: a.clientSecret });
process.stdout.write(JSON.stringify({ opaque: pair(opaque), jwt: pair(jwt), introspector: pair(introspector), rp: { ...pair(rp), redirectUri, userName, password } }) + '\n');
