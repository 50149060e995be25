#!/usr/bin/env node
// The latchkey command. The TypeScript sources are compiled to dist/ by `npm ci` (prepare script).
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const entry = join(dirname(fileURLToPath(import.meta.url)), '..', 'dist', 'src', 'cli', 'main.js');
if (!existsSync(entry)) {
  process.stderr.write('latchkey: the compiled sources are missing (dist/). Run `npm ci` or `npm run build` in the project folder.\n');
  process.exit(1);
}
const { main } = await import(entry);
process.exitCode = await main(process.argv);
