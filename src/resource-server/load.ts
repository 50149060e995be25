import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ApiDefinitionError, compileApi, type CompiledApi } from './compile.js';
import { ApiRouter } from './router.js';

const MODULE = /\.(m?js|m?ts)$/;
const SKIP = /(\.d\.m?ts|\.test\.m?[jt]s)$/;

/** Imports one module: JavaScript natively, TypeScript through tsx (esbuild), loaded only when needed. */
async function importModule(path: string): Promise<Record<string, unknown>> {
  if (/\.m?ts$/.test(path)) {
    const { tsImport } = await import('tsx/esm/api');
    return (await tsImport(pathToFileURL(path).href, import.meta.url)) as Record<string, unknown>;
  }
  return (await import(pathToFileURL(path).href)) as Record<string, unknown>;
}

/** The definition a module exports: `export default defineApi(...)` or `export const api = ...`. */
function exportedDefinition(mod: Record<string, unknown>): unknown {
  let value = mod.default ?? mod.api;
  // A TypeScript module compiled as CommonJS arrives as { default: { default: … } }.
  if (value !== null && typeof value === 'object' && 'default' in value && Object.keys(value).length === 1) {
    value = (value as { default: unknown }).default;
  }
  return value;
}

/**
 * Loads every API module in a folder, in name order. Any problem (a module that fails to import,
 * an invalid definition, two resources on one route, two APIs with one name) throws an
 * ApiDefinitionError naming the file, before the server starts listening.
 */
export async function loadApis(dir: string, options: { required: boolean }): Promise<ApiRouter> {
  const root = resolve(dir);
  if (!existsSync(root) || !statSync(root).isDirectory()) {
    if (options.required) throw new ApiDefinitionError(dir, 'the APIs folder does not exist (set --apis or LATCHKEY_APIS to a folder of API modules)');
    return new ApiRouter([]);
  }
  const files = readdirSync(root, { recursive: true, encoding: 'utf8' })
    .filter((f) => MODULE.test(f) && !SKIP.test(f) && !f.split(/[\\/]/).includes('node_modules'))
    .sort();
  const apis: CompiledApi[] = [];
  for (const file of files) {
    const path = join(root, file);
    const shown = relative(process.cwd(), path) || path;
    let mod: Record<string, unknown>;
    try {
      mod = await importModule(path);
    } catch (error) {
      throw new ApiDefinitionError(shown, `could not load the module: ${(error as Error).message.split('\n')[0]}`);
    }
    const definition = exportedDefinition(mod);
    if (definition === undefined) throw new ApiDefinitionError(shown, 'the module has no default export (export default defineApi({...}))');
    apis.push(compileApi(shown, definition));
  }
  return new ApiRouter(apis);
}
