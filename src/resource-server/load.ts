import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { register } from 'node:module';
import { pathToFileURL } from 'node:url';
import { ApiDefinitionError, compileApi, type CompiledApi } from './compile.js';
import { ApiRouter } from './router.js';
import { compileMcpServer, type CompiledMcpServer } from './compile-mcp.js';
import { isMcpServerDefinition } from './define.js';
import { loadMcpSdk } from './mcp-sdk.js';

const MODULE = /\.(m?js|m?ts)$/;
const SKIP = /(\.d\.m?ts|\.test\.m?[jt]s)$/;

let hookRegistered = false;

/** Makes `latchkey` and `latchkey/api` resolve to this running copy for every API module. */
export function registerSelfResolution(): void {
  if (hookRegistered) return;
  hookRegistered = true;
  register(new URL('./resolve-hook.js', import.meta.url), {
    data: { targets: { 'latchkey/api': new URL('./define.js', import.meta.url).href, latchkey: new URL('../index.js', import.meta.url).href } },
  });
}

/** Imports one module: JavaScript natively, TypeScript through tsx (esbuild), loaded only when needed. */
export async function importModule(path: string): Promise<Record<string, unknown>> {
  if (/\.m?ts$/.test(path)) {
    const { tsImport } = await import('tsx/esm/api');
    return (await tsImport(pathToFileURL(path).href, import.meta.url)) as Record<string, unknown>;
  }
  return (await import(pathToFileURL(path).href)) as Record<string, unknown>;
}

/** The definition a module exports: `export default defineApi(...)` (or defineMcpServer) or `export const api = ...`. */
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
  const mcpServers: CompiledMcpServer[] = [];
  if (files.length > 0) registerSelfResolution();
  for (const file of files) {
    const path = join(root, file);
    const shown = relative(process.cwd(), path) || path;
    let mod: Record<string, unknown>;
    try {
      mod = await importModule(path);
    } catch (error) {
      const first = (error as Error).message.split('\n')[0] ?? '';
      // A .ts file in a folder without "type": "module" is compiled as CommonJS, whose require()
      // does not see the resolution hook that serves 'latchkey/api'.
      const hint = /Cannot find (module|package) 'latchkey/.test(first) && /\.ts$/.test(path)
        ? ' (name the file .mts, or add a package.json with {"type": "module"} to the APIs folder, or install latchkey there)'
        : '';
      throw new ApiDefinitionError(shown, `could not load the module: ${first}${hint}`);
    }
    const definition = exportedDefinition(mod);
    if (definition === undefined) throw new ApiDefinitionError(shown, 'the module has no default export (export default defineApi({...}))');
    if (isMcpServerDefinition(definition)) {
      await loadMcpSdk();
      mcpServers.push(compileMcpServer(shown, definition));
    }
    else apis.push(compileApi(shown, definition));
  }
  return new ApiRouter(apis, mcpServers);
}
