/**
 * Runs @modelcontextprotocol/conformance on Node 20 without patching node_modules.
 *
 * The conformance CLI imports `globSync` from `fs`, which Node has only from 22 on; on Node 20 the
 * import fails before anything runs ("The requested module 'fs' does not provide an export named
 * 'globSync'"). Registered with `node --import`, this module adds a resolve hook (node:module
 * register) that serves the conformance package's own `fs` / `node:fs` imports from a data: module
 * re-exporting node:fs plus a small globSync (the CLI uses it for patterns like `**\/checks.json`
 * under a cwd). Every other module gets the real node:fs. On Node 22 and later it does nothing.
 *
 *   node --import ./scripts/conformance-node20.mjs node_modules/@modelcontextprotocol/conformance/dist/index.js authorization --help
 *
 * test/mcp-conformance.test.ts runs the authorization-server scenarios this way.
 */
import fs from 'node:fs';
import { register } from 'node:module';

const SHIM = `
import fs from 'node:fs';
import { join, relative, sep } from 'node:path';
export * from 'node:fs';
export default fs;
/** The patterns the conformance CLI passes: '**' for any depth, '*' within a name; files only. */
function toRegExp(pattern) {
  let out = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === '*' && pattern[i + 1] === '*') {
      i++;
      if (pattern[i + 1] === '/') { i++; out += '(?:.*/)?'; } else out += '.*';
    } else if (c === '*') out += '[^/]*';
    else if (c === '?') out += '[^/]';
    else out += c.replace(/[.+^$()|[\\]{}\\\\]/g, '\\\\$&');
  }
  return new RegExp('^' + out + '$');
}
export function globSync(pattern, options = {}) {
  const cwd = options.cwd === undefined ? process.cwd() : String(options.cwd);
  const patterns = (Array.isArray(pattern) ? pattern : [pattern]).map(toRegExp);
  const found = [];
  const walk = (dir, depth) => {
    if (depth > 32) return;
    let entries;
    try { entries = fs.readdirSync(dir, { withFileTypes: true }); } catch { return; }
    for (const e of entries) {
      const full = join(dir, e.name);
      if (e.isDirectory()) walk(full, depth + 1);
      const rel = relative(cwd, full).split(sep).join('/');
      if (patterns.some((p) => p.test(rel))) found.push(relative(cwd, full));
    }
  };
  walk(cwd, 0);
  return found.sort();
}
`;

const HOOKS = `
const shim = ${JSON.stringify(`data:text/javascript,${encodeURIComponent(SHIM)}`)};
export async function resolve(specifier, context, next) {
  if ((specifier === 'fs' || specifier === 'node:fs') && (context.parentURL ?? '').includes('/@modelcontextprotocol/conformance/')) {
    return { url: shim, shortCircuit: true };
  }
  return next(specifier, context);
}
`;

if (typeof fs.globSync !== 'function') {
  register(`data:text/javascript,${encodeURIComponent(HOOKS)}`, import.meta.url);
}
