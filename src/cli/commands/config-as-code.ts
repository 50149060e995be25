import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { executePlan, planApply, type Applied, type Plan, type PlannedChange } from '../../config-as-code/apply.js';
import { registryJsonSchema, SCHEMA_FILE } from '../../config-as-code/document.js';
import { DOCUMENT_FORMATS, formatDocument, parseDocument, type DocumentFormat } from '../../config-as-code/format.js';
import { apiRequirements, describeValue } from '../../config-as-code/present.js';
import { exportRegistry } from '../../config-as-code/snapshot.js';
import { createPrivateFile } from '../../core/private-files.js';
import { DocumentError } from '../../errors/document.js';
import { loadApis } from '../../resource-server/load.js';
import { ApiDefinitionError, type CompiledApi } from '../../resource-server/compile.js';
import { DEFAULT_APIS } from '../../config/config.js';
import { CliError, type CliContext } from '../context.js';
import { renderTable } from '../table.js';
import type { CommonOptions, Kit, Output } from './index.js';

/** `latchkey export` and `latchkey apply`: the registry as a file (docs/configuration-as-code.md). */

interface ExportOptions extends CommonOptions {
  readonly format?: string;
  readonly output?: string;
  readonly schema?: boolean;
  readonly apis?: string;
}

interface ApplyOptions extends CommonOptions {
  readonly file?: string;
  readonly dryRun?: boolean;
  readonly prune?: boolean;
  readonly secretsOut?: string;
  readonly apis?: string;
}

function formatOf(opts: ExportOptions): DocumentFormat {
  const raw = opts.format ?? (opts.json === true ? 'json' : 'yaml');
  if (!(DOCUMENT_FORMATS as readonly string[]).includes(raw)) throw new CliError(`--format takes ${DOCUMENT_FORMATS.join(' or ')} (got "${raw}").`, 2);
  return raw as DocumentFormat;
}

function writeOut(kit: Kit, text: string, file: string | undefined): void {
  if (file === undefined || file === '-') kit.io.out(text);
  else writeFileSync(file, text);
}

function registerExport(program: Command, kit: Kit): void {
  const cmd = program
    .command('export')
    .description('Write the registry (users without passwords, roles, scopes, applications without secrets, properties, identity providers, rules) as a file for `latchkey apply`')
    .option('--format <format>', 'yaml (default) or json (--json is the same as --format json)')
    .option('-o, --output <file>', 'write to this file instead of standard output')
    .option('--apis <folder>', 'also list the APIs of this folder of API modules, read-only (env LATCHKEY_APIS)')
    .option('--schema', `print the JSON Schema of the format instead (as published in ${SCHEMA_FILE}); needs no database`)
    .addHelpText('after', `
The file is byte-identical for the same registry (sorted by name, no ids or times), so it can be
kept in version control and compared. Left out: what every instance has (the built-in roles and
scopes, the console application) and properties at their default. Secrets and passwords never
leave the instance.

Examples:
  latchkey export -o registry.yaml
  latchkey export --format json --db postgres://latchkey@db/latchkey > registry.json
  latchkey apply -f registry.yaml --db ./other/latchkey.db --dry-run
`);
  kit.common(cmd).action((opts: ExportOptions) => {
    const format = formatOf(opts);
    if (opts.schema === true) {
      kit.plain(opts, async () => writeOut(kit, `${JSON.stringify(registryJsonSchema(), null, 2)}\n`, opts.output));
      return;
    }
    kit.withDb(opts, async (ctx, out) => {
      const folder = opts.apis ?? process.env.LATCHKEY_APIS;
      const apis = folder === undefined ? undefined : await apisOf(folder, true);
      const doc = await exportRegistry(ctx.storage, apis);
      writeOut(kit, formatDocument(doc, format), opts.output);
      if (opts.output !== undefined && opts.output !== '-') {
        out.note(`Wrote ${doc.users.length} users, ${doc.roles.length} roles, ${doc.scopes.length} scopes, ${doc.applications.length} applications, ${doc.identityProviders.length} identity providers, ${doc.rules.length} rules, ${doc.registrationPolicies.length} registration policies and ${Object.keys(doc.properties).length} properties to ${opts.output}.\n`);
      }
    });
  });
}

function readDocumentText(kit: Kit, file: string): Promise<string> {
  if (file === '-') return kit.io.readStdin();
  try {
    return Promise.resolve(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new CliError(`Cannot read ${file}: ${(error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (error as Error).message}.`);
  }
}

function changeText(change: PlannedChange): string {
  const fields = change.fields.map((f) => (change.action === 'create' ? `${f.field}: ${describeValue(f.to)}` : `${f.field}: ${describeValue(f.from)} → ${describeValue(f.to)}`));
  return [...fields, ...(change.note === null ? [] : [`(${change.note})`])].join('; ') || '-';
}

function nameText(change: PlannedChange): string {
  if (change.kind !== 'application') return change.name;
  return `${change.name} (${change.clientId === null ? 'new client id' : change.clientId})`;
}

const KIND_LABEL: Readonly<Record<PlannedChange['kind'], string>> = {
  property: 'property',
  role: 'role',
  scope: 'scope',
  user: 'user',
  application: 'application',
  identityProvider: 'identity provider',
  rule: 'rule',
  resource: 'resource',
  registrationPolicy: 'registration policy',
  exchangePolicy: 'exchange policy',
};

export function planText(plan: Plan, file: string): string {
  if (plan.changes.length === 0) return `No changes: the instance matches ${file}.\n`;
  const count = (action: string) => plan.changes.filter((c) => c.action === action).length;
  const head = `Plan: ${count('create')} to create, ${count('update')} to update, ${count('delete')} to delete.\n\n`;
  return head + renderTable(['ACTION', 'KIND', 'NAME', 'CHANGES'], plan.changes.map((c) => [c.action, KIND_LABEL[c.kind], nameText(c), changeText(c)]), 200);
}

/** Where the CLI finds the APIs this instance serves: --apis, LATCHKEY_APIS, or ./apis when it exists (as `serve`). */
async function servedApis(opts: ApplyOptions): Promise<readonly CompiledApi[]> {
  return apisOf(opts.apis ?? process.env.LATCHKEY_APIS ?? DEFAULT_APIS, opts.apis !== undefined || process.env.LATCHKEY_APIS !== undefined);
}

/** The APIs of a folder, as `serve` loads them; a module that does not load is reported as such (not as a start-up failure). */
async function apisOf(folder: string, required: boolean): Promise<readonly CompiledApi[]> {
  try {
    return (await loadApis(folder, { required })).list();
  } catch (error) {
    if (error instanceof ApiDefinitionError) throw new CliError(`--apis: ${error.message}. Nothing was read or changed.`);
    throw error;
  }
}

/** One block per secret, never a table: a secret must not be wrapped or clipped on a narrow terminal. */
function secretsText(applied: Applied): string {
  if (applied.secrets.length === 0) return '';
  const blocks = applied.secrets.map((s) => `  ${s.name}\n    client id:     ${s.clientId}\n    client secret: ${s.clientSecret}\n`);
  return `\nClient secrets of the new applications (shown only this once; Latchkey stores only their hashes):\n\n${blocks.join('\n')}\nIf one is lost, replace it with: latchkey apps rotate-secret <client-id>\n`;
}

/** Reserves the --secrets-out file (new, owner-only) before anything changes, so a secret is never generated with nowhere to go. */
function reserveSecretsFile(path: string): void {
  let created: boolean;
  try {
    created = createPrivateFile(path);
  } catch (error) {
    throw new CliError(`Cannot create --secrets-out ${path}: ${(error as Error).message}. Nothing was changed.`);
  }
  if (!created) throw new CliError(`--secrets-out ${path} exists already; give a new file (secrets are never written over another file). Nothing was changed.`);
}

async function runApply(ctx: CliContext, out: Output, kit: Kit, opts: ApplyOptions): Promise<number> {
  const file = opts.file as string;
  const doc = parseDocument(await readDocumentText(kit, file), file === '-' ? 'standard input' : file);
  const apis = await servedApis(opts);
  const deps = { ...ctx, servedApis: apis, apiRequirements: apiRequirements(apis) };
  const plan = await planApply(deps, doc, { prune: opts.prune === true });
  const result = { dryRun: opts.dryRun === true, prune: plan.prune, changes: plan.changes, warnings: plan.warnings };
  if (!out.json) kit.io.out(planText(plan, file === '-' ? 'the document' : file));
  for (const w of plan.warnings) out.warn(w);
  if (opts.dryRun === true || plan.steps.length === 0) {
    if (out.json) out.result({ ...result, applied: 0, secrets: [] }, '');
    else if (opts.dryRun === true && plan.changes.length > 0) kit.io.out('\nDry run: nothing was changed. Run the same command without --dry-run to apply it.\n');
    return 0;
  }
  const expectsSecrets = plan.changes.some((c) => c.note?.includes('secret generated') === true);
  if (opts.secretsOut !== undefined && expectsSecrets) reserveSecretsFile(opts.secretsOut);
  const applied = await executePlan(deps, plan);
  if (opts.secretsOut !== undefined && expectsSecrets) {
    writeFileSync(opts.secretsOut, `${JSON.stringify({ applications: applied.secrets }, null, 2)}\n`);
    if (applied.secrets.length === 0) rmSync(opts.secretsOut, { force: true });
  }
  const secretsShown = opts.secretsOut === undefined ? applied.secrets : [];
  if (out.json) {
    out.result({ ...result, applied: applied.steps, secrets: secretsShown, ...(applied.failed === undefined ? {} : { error: { code: applied.failed.code, message: applied.failed.message, issues: applied.failed.issues } }) }, '');
  } else {
    kit.io.out(`\nApplied ${applied.steps} change${applied.steps === 1 ? '' : 's'}.\n`);
    if (opts.secretsOut === undefined) kit.io.out(secretsText(applied));
    else if (applied.secrets.length > 0) kit.io.out(`\nWrote the client secrets of ${applied.secrets.length} new application${applied.secrets.length === 1 ? '' : 's'} to ${opts.secretsOut} (readable by its owner only; shown nowhere else).\n`);
  }
  if (applied.failed !== undefined) {
    kit.io.err(`latchkey: ${applied.failed.message}\n`);
    return 1;
  }
  return 0;
}

function registerApply(program: Command, kit: Kit): void {
  const cmd = program
    .command('apply')
    .description('Make the registry match a file written by `latchkey export` (or by hand): prints the plan, then applies it')
    .requiredOption('-f, --file <file>', 'the registry document, YAML or JSON ("-": standard input)')
    .option('--dry-run', 'print the plan and change nothing (exit code 0 either way)')
    .option('--prune', 'also delete what the file lacks (never the built-ins; properties left out go back to their default)')
    .option('--secrets-out <file>', 'write the client secrets of new applications to this new file (mode 0600, JSON) instead of printing them')
    .option('--apis <folder>', `the APIs this instance serves, for the warnings and deletes (env LATCHKEY_APIS, default ${DEFAULT_APIS})`)
    .addHelpText('after', `
Apply is idempotent: applying the same file twice changes nothing the second time. Every change
is first rehearsed on a copy of the registry, so a file the registry would refuse (a bad redirect
URI, an unknown scope, a field out of range) is reported with its place in the file
(applications[2].grantTypes: ...), exit code 1, before anything changes. Each change is made
through the registry, audited like the other commands (latchkey audit).

Rules (docs/rules.md) are created under their id in their mode; a rule whose mode differs is
enforced or put back to report; a rule's kind, target and fields never change.

Without --prune nothing is deleted. New confidential applications get a generated secret, shown
once (or written to --secrets-out); users it creates have no password: set one with
  latchkey users update <user> --password-stdin

Examples:
  latchkey apply -f registry.yaml --dry-run
  latchkey apply -f registry.yaml --secrets-out new-secrets.json
  latchkey export --db old.db | latchkey apply -f - --db new.db --prune
`);
  kit.common(cmd).action((opts: ApplyOptions) =>
    kit.withDb(opts, async (ctx, out) => {
      try {
        return await runApply(ctx, out, kit, opts);
      } catch (error) {
        if (error instanceof DocumentError) throw new CliError(error.message);
        throw error;
      }
    }),
  );
}

export function registerConfigAsCode(program: Command, kit: Kit): void {
  registerExport(program, kit);
  registerApply(program, kit);
}
