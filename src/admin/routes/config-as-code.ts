import { executePlan, planApply } from '../../config-as-code/apply.js';
import { registryDocumentSchema } from '../../config-as-code/document.js';
import { DOCUMENT_FORMATS, formatDocument, MAX_DOCUMENT_BYTES, parseDocument, type DocumentFormat } from '../../config-as-code/format.js';
import { apiRequirements } from '../../config-as-code/present.js';
import { exportRegistry } from '../../config-as-code/snapshot.js';
import { header } from '../../core/request.js';
import { DocumentError } from '../../errors/document.js';
import { AdminAnswer, badRequest } from '../http.js';
import { deps } from './helpers.js';
import type { AdminRoute, RouteContext } from './types.js';

/** Configuration as code: the registry as a document (docs/configuration-as-code.md). */

const YAML_TYPE = 'application/yaml';
const YAML_TYPES = [YAML_TYPE, 'application/x-yaml', 'text/yaml', 'text/x-yaml'];

/** ?format= first, else the Accept header (YAML when it asks for it), else JSON. */
function exportFormat(ctx: RouteContext): DocumentFormat {
  const asked = ctx.query.get('format');
  if (asked !== null && asked !== '') {
    if (!(DOCUMENT_FORMATS as readonly string[]).includes(asked)) throw badRequest(`format must be ${DOCUMENT_FORMATS.join(' or ')}.`, 'format');
    return asked as DocumentFormat;
  }
  const accept = (header({ headers: ctx.headers ?? {} }, 'accept') ?? '').toLowerCase();
  return YAML_TYPES.some((t) => accept.includes(t)) ? 'yaml' : 'json';
}

function flag(ctx: RouteContext, name: string): boolean {
  const raw = ctx.query.get(name);
  if (raw === null || raw === '' || raw === 'false') return false;
  if (raw === 'true') return true;
  throw badRequest(`${name} must be true or false.`, name);
}

/** A document problem: 400 (nothing changed) or 409 (applied in part), with every issue and its path. */
function documentProblem(error: DocumentError, extra: Record<string, unknown> = {}): AdminAnswer {
  return AdminAnswer.json(error.code === 'incomplete' ? 409 : 400, { error: error.code, message: error.message, field: error.issues[0]?.path ?? '', issues: error.issues, ...extra });
}

async function apply(ctx: RouteContext): Promise<unknown> {
  const dryRun = flag(ctx, 'dryRun');
  const prune = flag(ctx, 'prune');
  const served = ctx.latchkey.router.list();
  const applyDeps = { ...deps(ctx), servedApis: served, apiRequirements: apiRequirements(served) };
  try {
    const doc = parseDocument(ctx.rawBody ?? '', 'the request body');
    const plan = await planApply(applyDeps, doc, { prune });
    const result = { dryRun, prune, changes: plan.changes, warnings: plan.warnings };
    if (dryRun || plan.steps.length === 0) return { ...result, applied: 0, secrets: [] };
    const applied = await executePlan(applyDeps, plan);
    await ctx.latchkey.cache.check();
    const answer = { ...result, applied: applied.steps, secrets: applied.secrets };
    return applied.failed === undefined ? answer : documentProblem(applied.failed, answer);
  } catch (error) {
    if (error instanceof DocumentError) return documentProblem(error);
    throw error;
  }
}

export const CONFIG_AS_CODE_ROUTES: readonly AdminRoute[] = [
  {
    method: 'GET',
    path: '/export',
    tag: 'configuration',
    summary: 'The registry as a document for POST /apply and `latchkey apply` (users without passwords, applications without secrets; byte-identical for the same registry)',
    query: [{ name: 'format', description: 'json or yaml (default: yaml when the Accept header asks for application/yaml, else json)' }],
    produces: ['application/json', YAML_TYPE],
    async handler(ctx) {
      const format = exportFormat(ctx);
      const served = ctx.latchkey.router.list();
      const doc = await exportRegistry(ctx.latchkey.storage, served.length === 0 ? undefined : served);
      const type = format === 'yaml' ? `${YAML_TYPE}; charset=utf-8` : 'application/json; charset=utf-8';
      return new AdminAnswer(200, type, formatDocument(doc, format), { 'content-disposition': `inline; filename="latchkey-registry.${format === 'yaml' ? 'yaml' : 'json'}"` });
    },
  },
  {
    method: 'POST',
    path: '/apply',
    tag: 'configuration',
    summary: 'Makes the registry match a document (YAML or JSON body): answers the plan and, for new applications, their secrets (once). A document the registry would refuse is answered 400 with every issue and its path, and changes nothing',
    query: [
      { name: 'dryRun', type: 'boolean', description: 'true: answer the plan and change nothing' },
      { name: 'prune', type: 'boolean', description: 'true: also delete what the document lacks (never the built-ins)' },
    ],
    textBody: { schema: registryDocumentSchema, contentTypes: ['application/json', YAML_TYPE], limit: MAX_DOCUMENT_BYTES },
    handler: apply,
  },
];
