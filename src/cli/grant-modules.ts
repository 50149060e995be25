import { existsSync } from 'node:fs';
import { relative, resolve } from 'node:path';
import { importModule, registerSelfResolution } from '../resource-server/load.js';
import { BUILT_IN_GRANTS, checkCatalogue } from '../grants/index.js';
import type { GrantModule } from '../grants/types.js';

/** The environment variable naming a grant module file (as --grant-module does). */
export const GRANTS_ENV = 'LATCHKEY_GRANTS';

const CLIENT_AUTH = new Set(['confidential', 'public_allowed', 'identifies_client']);

/** Why a value is not a grant module, or undefined when it is one. */
function notAGrant(value: unknown): string | undefined {
  if (value === null || typeof value !== 'object') return 'is not an object';
  const g = value as Record<string, unknown>;
  if (typeof g.grantType !== 'string' || g.grantType === '') return 'has no grantType';
  for (const field of ['label', 'summary'] as const) if (typeof g[field] !== 'string') return `(${g.grantType}) has no ${field}`;
  if (!Array.isArray(g.parameters)) return `(${g.grantType}) has no parameters list`;
  if (typeof g.clientAuth !== 'string' || !CLIENT_AUTH.has(g.clientAuth)) return `(${g.grantType}) has no clientAuth (confidential, public_allowed or identifies_client)`;
  if (typeof g.adminApi !== 'boolean') return `(${g.grantType}) has no adminApi (true or false)`;
  if (typeof g.createHandler !== 'function') return `(${g.grantType}) has no createHandler function`;
  return undefined;
}

/**
 * Loads the grant modules of one ES module (JavaScript, or TypeScript through tsx): its default
 * export, or its `grants` export, an array of grant modules. Throws an Error naming the file when
 * it is missing, fails to import or exports nothing usable.
 */
export async function loadGrantModules(file: string): Promise<GrantModule[]> {
  const path = resolve(file);
  const shown = relative(process.cwd(), path) || path;
  if (!existsSync(path)) throw new Error(`the grant module ${shown} does not exist (--grant-module / ${GRANTS_ENV} name an ES module file)`);
  registerSelfResolution();
  let mod: Record<string, unknown>;
  try {
    mod = await importModule(path);
  } catch (error) {
    throw new Error(`could not load the grant module ${shown}: ${(error as Error).message.split('\n')[0] ?? ''}`);
  }
  const list = mod.default ?? mod.grants;
  if (!Array.isArray(list) || list.length === 0) {
    throw new Error(`the grant module ${shown} exports no grant modules: export default [myGrant] (or export const grants = [myGrant])`);
  }
  list.forEach((g, i) => {
    const why = notAGrant(g);
    if (why !== undefined) throw new Error(`the grant module ${shown}: entry ${i + 1} ${why}`);
  });
  return list as GrantModule[];
}

/**
 * The catalogue a CLI process serves and checks against: the built-in grants, then those of the
 * module named by --grant-module or LATCHKEY_GRANTS (none when neither is set). A grant type
 * named twice throws.
 */
export async function grantCatalogue(file: string | undefined = process.env[GRANTS_ENV]): Promise<readonly GrantModule[]> {
  if (file === undefined || file === '') return BUILT_IN_GRANTS;
  const extra = await loadGrantModules(file);
  try {
    return checkCatalogue([...BUILT_IN_GRANTS, ...extra]);
  } catch (error) {
    throw new Error(`the grant module ${file}: ${(error as Error).message}`);
  }
}
