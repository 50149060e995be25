import { existsSync, readFileSync, statSync } from 'node:fs';
import { extname, join, normalize, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { NeutralResponse } from '../core/request.js';
import { CONSOLE_HEADERS } from './http.js';

/**
 * The console's static files (built by `npm run build` into dist/console): index.html never
 * cached, content-hashed assets cached for a year, everything else briefly. Only files inside the
 * folder are served (no traversal, no dot files, no directory listings).
 */

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
};

/** dist/console beside the compiled code: dist/src/admin → ../../console. */
export function defaultConsoleDir(): string {
  return process.env.LATCHKEY_CONSOLE_DIR ?? fileURLToPath(new URL('../../console/', import.meta.url));
}

/** A file name with a content hash (Vite: name-<8+ chars>.ext). */
const HASHED = /[-.][A-Za-z0-9_-]{8,}\.[a-z0-9]+$/;

export interface StaticFile {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: Buffer | string;
}

export function notBuilt(): NeutralResponse {
  return { status: 503, headers: { ...CONSOLE_HEADERS, 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' }, body: 'console not built: run npm run build\n' };
}

/** The index page, or 503 when the console has not been built. */
export function indexFile(dir: string): StaticFile {
  const file = join(dir, 'index.html');
  if (!existsSync(file)) return notBuilt();
  return { status: 200, headers: { ...CONSOLE_HEADERS, 'content-type': TYPES['.html'] as string, 'cache-control': 'no-store' }, body: readFileSync(file) };
}

/** A file below the console folder by its path after /console/, or 404. */
export function assetFile(dir: string, relative: string): StaticFile {
  const notFound: StaticFile = { status: 404, headers: { ...CONSOLE_HEADERS, 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' }, body: 'Not found\n' };
  let decoded: string;
  try {
    decoded = decodeURIComponent(relative);
  } catch {
    return notFound;
  }
  if (decoded.includes('\0') || decoded.split(/[\\/]/).some((s) => s.startsWith('.'))) return notFound;
  const root = resolve(dir);
  const file = resolve(root, normalize(decoded));
  if (!file.startsWith(root + sep)) return notFound;
  if (!existsSync(file) || !statSync(file).isFile()) return existsSync(join(root, 'index.html')) ? notFound : notBuilt();
  const type = TYPES[extname(file).toLowerCase()] ?? 'application/octet-stream';
  const cache = decoded.startsWith('assets/') && HASHED.test(file) ? 'public, max-age=31536000, immutable' : 'no-cache';
  return { status: 200, headers: { ...CONSOLE_HEADERS, 'content-type': type, 'cache-control': cache }, body: readFileSync(file) };
}
