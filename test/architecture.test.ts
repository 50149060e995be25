import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, posix, relative, sep } from 'node:path';
import { describe, it } from 'node:test';
import { invalidGrant } from '../src/errors/errors.js';
import type { OAuthError } from '../src/errors/oauth-error.js';

const root = join(import.meta.dirname ?? new URL('.', import.meta.url).pathname, '..', '..');

/**
 * The layers of src/, lowest first. A module may import from its own layer and from the layers
 * below it, never from a layer above: dependencies point down. A layer is a top-level folder of
 * src/ (or a file directly in src/); FILE_LAYERS places a few files in another layer than their
 * folder's.
 *
 *   domain        the records (domain/model.ts, domain/access-jwt.ts, domain/caller.ts) and grant-type identifiers (grants/grant-type.ts)
 *   errors        refusals as data (OAuthError, its templates, reason codes) and every other error class
 *   core          framework-free primitives: clock, crypto, forms, the neutral request, logging
 *   config        the instance's start-up settings
 *   storage       the ports and the adapters (SQLite, PostgreSQL, memory)
 *   audit         the audit log, refusal records, activity counters
 *   outbound      the one way to fetch a registered URL, and its rules
 *   registry      applications, users, scopes, properties, the registry cache, lockout
 *   web           HTML pages, cookies, sessions, CSRF (used by the authorization endpoint and the console)
 *   keys          signing keys and the key-encryption key
 *   tokens        minting and verifying our access tokens
 *   assertions    JWTs signed by others (client assertions, identity-provider tokens)
 *   idp           identity providers: their registry, metadata and token validation
 *   client-auth   client authentication methods
 *   grants        the grants
 *   oidc          OpenID Connect: scope → claims (oidc/claims.ts), for UserInfo and ID tokens
 *   endpoints     the OAuth endpoints (token, authorize, introspect, revoke, jwks, metadata)
 *   resource-server  hosted APIs: bearer validation, routing, the API provider
 *   jobs          background jobs (cleanup, key rotation)
 *   diagnostics   doctor and inspect
 *   config-as-code  (with diagnostics) the registry as a document: export, apply (plan, rehearsal, steps), its schema
 *   metrics       what GET /metrics serves: the instance's metric families and the /metrics endpoint
 *   app           src/app.ts: createLatchkey wires the above together
 *   admin         the admin API and the console's server side
 *   http          the Fastify server: one plugin per surface
 *   entry         src/index.ts: the package's public entry
 *   middleware, cli   the published resource-server middleware; the `latchkey` command
 */
const LAYERS: readonly (readonly string[])[] = [
  ['domain'],
  ['errors'],
  ['core'],
  ['config'],
  ['storage'],
  ['audit'],
  ['outbound'],
  ['registry'],
  ['web'],
  ['keys'],
  ['tokens'],
  ['assertions'],
  ['idp'],
  ['client-auth'],
  ['grants'],
  ['oidc'],
  ['endpoints'],
  ['resource-server'],
  ['jobs'],
  ['diagnostics', 'config-as-code'],
  ['metrics'],
  ['app.ts'],
  ['admin'],
  ['http'],
  ['index.ts'],
  ['middleware', 'cli'],
];

/** Files whose layer is not their folder's (path relative to src/). */
const FILE_LAYERS: Readonly<Record<string, string>> = {
  // GrantType lives with the grants (an open type a grant module extends) but is a leaf: the domain model names it.
  'grants/grant-type.ts': 'domain',
};

function layerOf(file: string): string {
  return FILE_LAYERS[file] ?? (file.split('/')[0] as string);
}

function rankOf(layer: string): number {
  const rank = LAYERS.findIndex((names) => names.includes(layer));
  assert.notEqual(rank, -1, `src/${layer} is in no layer: add it to LAYERS in test/architecture.test.ts`);
  return rank;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sourceFiles(join(dir, e.name)) : e.name.endsWith('.ts') || e.name.endsWith('.tsx') ? [join(dir, e.name)] : [],
  );
}

/** Relative module specifiers of static imports, re-exports and dynamic imports (type-only ones too). */
export function importsOf(text: string): string[] {
  const specs: string[] = [];
  for (const m of text.matchAll(/(?:^|[\s;])(?:import|export)\s[^'";]*?from\s*'(\.[^']+)'|import\(\s*'(\.[^']+)'\s*\)/g)) specs.push((m[1] ?? m[2]) as string);
  return specs;
}

interface Edge {
  readonly from: string;
  readonly to: string;
}

/** Every import between two files of src/ (paths relative to src/, POSIX separators). */
function edges(src: string): Edge[] {
  return sourceFiles(src).flatMap((file) => {
    const from = relative(src, file).split(sep).join('/');
    return importsOf(readFileSync(file, 'utf8')).map((spec) => ({ from, to: posix.normalize(posix.join(posix.dirname(from), spec)).replace(/\.js$/, '.ts') }));
  });
}

/** The imports that climb: from a layer to a higher one. */
export function upwardImports(all: readonly Edge[]): string[] {
  return all
    .filter((e) => !e.to.startsWith('../') && rankOf(layerOf(e.to)) > rankOf(layerOf(e.from)))
    .map((e) => `src/${e.from} (${layerOf(e.from)}) imports src/${e.to} (${layerOf(e.to)})`);
}

describe('architecture', () => {
  it('dependencies point down: no module of src/ imports from a higher layer', () => {
    const src = join(root, 'src');
    const all = edges(src);
    assert.ok(all.length > 300, `only ${all.length} imports found under ${src}: the import scan is broken`);
    assert.deepEqual(upwardImports(all), []);
  });

  it('the check sees an upward import, a type-only one and a re-export', () => {
    assert.deepEqual(importsOf("import { a } from '../x.js';\nimport type { B } from './y.js';\nexport { c } from '../../z.js';\nawait import('./w.js');"), [
      '../x.js',
      './y.js',
      '../../z.js',
      './w.js',
    ]);
    assert.deepEqual(upwardImports([{ from: 'grants/jwt-bearer.ts', to: 'resource-server/bearer.ts' }]), [
      'src/grants/jwt-bearer.ts (grants) imports src/resource-server/bearer.ts (resource-server)',
    ]);
    assert.deepEqual(upwardImports([{ from: 'admin/routes/index.ts', to: 'http/fastify-neutral.ts' }]).length, 1);
    assert.deepEqual(upwardImports([{ from: 'resource-server/bearer.ts', to: 'idp/tokens.ts' }]), []);
    assert.deepEqual(upwardImports([{ from: 'storage/types.ts', to: 'grants/grant-type.ts' }]), []);
  });

  it('the framework stays at the edge: only src/http/ and the Fastify middleware import fastify', () => {
    const src = join(root, 'src');
    const allowed = (file: string) => file.startsWith('http/') || file === 'middleware/fastify.ts';
    const found = sourceFiles(src)
      .map((file) => relative(src, file).split(sep).join('/'))
      .filter((file) => !allowed(file) && /(?:^|[\s;])(?:import|export)\s[^'";]*?from\s*'fastify'/.test(readFileSync(join(src, file), 'utf8')));
    assert.deepEqual(found, []);
  });

  it('every top-level folder of src/ has a layer', () => {
    for (const e of readdirSync(join(root, 'src'), { withFileTypes: true })) rankOf(e.name);
  });

  it('a shared refusal template is not an OAuthError: it must be given a reason first', () => {
    // @ts-expect-error a template has no reason; only withReason(reason) makes an OAuthError of it.
    const refused: OAuthError = invalidGrant;
    assert.equal('reason' in refused, false);
    assert.equal(invalidGrant.withReason('grant.unsupported').reason, 'grant.unsupported');
  });

  it('no refusal template is thrown without a reason', () => {
    const templates = readFileSync(join(root, 'src', 'errors', 'errors.ts'), 'utf8').matchAll(/export const (\w+) = new OAuthErrorTemplate/g);
    const names = [...templates].map((m) => m[1] as string);
    assert.ok(names.includes('invalidGrant'), 'the templates of src/errors/errors.ts were not found');
    const found: string[] = [];
    for (const file of sourceFiles(join(root, 'src'))) {
      const text = readFileSync(file, 'utf8');
      // `throw invalidGrant` followed by anything but a chain that reaches .withReason( before the statement ends.
      for (const m of text.matchAll(new RegExp(`throw\\s+(${names.join('|')})\\b([^;]*)`, 'g'))) {
        if (!/^\s*(\.\w+\([^;]*?\)\s*)*?\.withReason\(/.test(m[2] as string)) found.push(`${relative(root, file)}: throw ${m[1]}${(m[2] as string).slice(0, 60)}`);
      }
    }
    assert.deepEqual(found, []);
  });
});
