import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { loadApis } from '../src/resource-server/load.js';

describe('API modules outside the project', () => {
  const dir = mkdtempSync(join(tmpdir(), 'latchkey-apis-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("resolve 'latchkey/api' to the running copy from any folder (JavaScript and .mts)", async () => {
    writeFileSync(join(dir, 'a.mjs'), "import { defineApi } from 'latchkey/api';\nexport default defineApi({ namespace: 'ext', id: 'js', resources: [{ method: 'GET', path: '/', handler: () => ({ body: 1 }) }] });\n");
    writeFileSync(join(dir, 'b.mts'), "import { defineApi, ApiError } from 'latchkey/api';\nconst n: number = 2;\nexport default defineApi({ namespace: 'ext', id: 'ts', resources: [{ method: 'GET', path: '/', handler: () => { throw new ApiError(409, 'no ' + n); } }] });\n");
    const router = await loadApis(dir, { required: true });
    assert.deepEqual(router.list().map((a) => `${a.namespace}/${a.id}`).sort(), ['ext/js', 'ext/ts']);
  });

  it('explain what to do when a CommonJS-compiled .ts module cannot import latchkey', async () => {
    const cjs = mkdtempSync(join(tmpdir(), 'latchkey-apis-cjs-'));
    try {
      writeFileSync(join(cjs, 'c.ts'), "import { defineApi } from 'latchkey/api';\nexport default defineApi({ namespace: 'ext', id: 'cjs', resources: [{ method: 'GET', path: '/', handler: () => ({}) }] });\n");
      await assert.rejects(loadApis(cjs, { required: true }), /c\.ts: could not load the module: .*name the file \.mts/);
    } finally {
      rmSync(cjs, { recursive: true, force: true });
    }
  });
});
