import assert from 'node:assert/strict';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { pathToFileURL } from 'node:url';
import ts from 'typescript';
import { BUILT_IN_GRANTS } from '../src/grants/index.js';
import type { GrantModule } from '../src/grants/types.js';
import { buildFixture } from './helpers/fixture.js';
import { assertRefusal, tokenRequest } from './helpers/oauth.js';
import { startTestServer, type TestServer } from './helpers/server.js';

/**
 * docs/architecture.md's grant recipe, checked as written: its code blocks (marked
 * `<!-- recipe: … -->`) are compiled into the real source tree in memory (the reason-code entry
 * inserted into src/errors/reasons.ts, the module as src/grants/ticket.ts, appended to the
 * catalogue), then the module runs in a server. A recipe that no longer compiles or works fails here.
 */
const root = join(import.meta.dirname ?? new URL('.', import.meta.url).pathname, '..', '..');
const DOC = join(root, 'docs', 'architecture.md');

function recipeBlock(name: string): string {
  const doc = readFileSync(DOC, 'utf8');
  const marker = `<!-- recipe: ${name} -->\n\`\`\`ts\n`;
  const start = doc.indexOf(marker);
  assert.notEqual(start, -1, `docs/architecture.md has no block marked <!-- recipe: ${name} -->`);
  const end = doc.indexOf('\n```', start + marker.length);
  return doc.slice(start + marker.length, end + 1);
}

/** Type-checks the source tree with some files replaced or added (absolute path → text). */
function typeCheck(files: ReadonlyMap<string, string>): string[] {
  const config = ts.getParsedCommandLineOfConfigFile(join(root, 'tsconfig.json'), {}, { ...ts.sys, onUnRecoverableConfigFileDiagnostic: () => {} });
  assert.ok(config !== undefined, 'tsconfig.json could not be read');
  const options = { ...config.options, noEmit: true };
  const host = ts.createCompilerHost(options);
  const readFile = host.readFile.bind(host);
  const fileExists = host.fileExists.bind(host);
  host.readFile = (path) => files.get(path) ?? readFile(path);
  host.fileExists = (path) => files.has(path) || fileExists(path);
  const rootNames = [...files.keys()].filter((f) => f.endsWith('.ts') && f.includes(`${join(root, 'src', 'grants')}`));
  const program = ts.createProgram({ rootNames, options, host });
  return ts
    .getPreEmitDiagnostics(program)
    .map((d) => `${d.file === undefined ? '' : `${d.file.fileName.slice(root.length + 1)}: `}${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`);
}

describe('docs/architecture.md: the grant recipe', () => {
  const ticketSource = recipeBlock('src/grants/ticket.ts');
  const reasonEntry = recipeBlock('reasons');
  let server: TestServer;
  let ticket: GrantModule;
  let grantType: string;
  const compiled = join(root, 'dist', 'src', 'grants', `ticket-recipe-${process.pid}.js`);

  it('compiles in the source tree: the reason entry, the module, and the catalogue with it appended', () => {
    const reasonsPath = join(root, 'src', 'errors', 'reasons.ts');
    const reasons = readFileSync(reasonsPath, 'utf8');
    const opening = 'export const REASONS = {\n';
    assert.ok(reasons.includes(opening), 'src/errors/reasons.ts no longer opens REASONS as the recipe expects');
    const files = new Map([
      [reasonsPath, reasons.replace(opening, opening + reasonEntry)],
      [join(root, 'src', 'grants', 'ticket.ts'), ticketSource],
      [
        join(root, 'src', 'grants', 'recipe-catalogue.ts'),
        "import { BUILT_IN_GRANTS } from './index.js';\nimport type { GrantModule } from './types.js';\nimport { ticket } from './ticket.js';\nexport const catalogue: readonly GrantModule[] = [...BUILT_IN_GRANTS, ticket];\n",
      ],
    ]);
    assert.deepEqual(typeCheck(files), []);
  });

  before(async () => {
    // Run the module as the build would: transpiled beside the compiled grants, so its relative imports resolve.
    writeFileSync(compiled, ts.transpileModule(ticketSource, { compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 } }).outputText);
    const mod = (await import(pathToFileURL(compiled).href)) as { ticket: GrantModule; TICKET_GRANT: string };
    ticket = mod.ticket;
    grantType = mod.TICKET_GRANT;
    server = await startTestServer({ grants: [...BUILT_IN_GRANTS, ticket] });
  });
  after(async () => {
    rmSync(compiled, { force: true });
    await server?.close();
  });

  it('runs: an application of its kind trades a ticket for a token, and its refusals are recorded with their reasons', async () => {
    const { apps } = await buildFixture(server, { apps: { app: { name: 'Ticket client', grantTypes: ['ticket'] } } });
    assert.deepEqual(apps.app.application.grantTypes, [grantType]);
    const basic = [apps.app.clientId, apps.app.secret] as const;
    const ok = await tokenRequest(server.url, { form: { grant_type: grantType, ticket: 't-42' }, basic });
    assert.equal(ok.status, 200, ok.text);
    assert.match(String(ok.json?.access_token), /^lk_at_/);

    const bad = await tokenRequest(server.url, { form: { grant_type: grantType, ticket: 'forged' }, basic });
    assert.equal(bad.status, 400);
    assert.equal(bad.json?.error, 'invalid_grant');
    await assertRefusal(server.latchkey.storage, bad, 'grant.ticket_invalid');

    const missing = await tokenRequest(server.url, { form: { grant_type: grantType }, basic });
    assert.equal(missing.json?.error, 'invalid_request');
    await assertRefusal(server.latchkey.storage, missing, 'request.missing_parameter');
  });

  it('the recipe names at most three files', () => {
    const doc = readFileSync(DOC, 'utf8');
    const section = doc.slice(doc.indexOf('## Recipe: add a grant'), doc.indexOf('## Recipe: add an endpoint'));
    const files = new Set([...section.matchAll(/^\d\. `(src\/[^`]+)`/gm)].map((m) => m[1]));
    assert.deepEqual([...files].sort(), ['src/errors/reasons.ts', 'src/grants/index.ts', 'src/grants/ticket.ts']);
    assert.ok(dirname(compiled).endsWith(join('src', 'grants')));
  });
});
