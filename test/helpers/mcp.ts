import { join } from 'node:path';
import { ROOT } from './api.js';

/** The hosted MCP servers of the MCP tests (test/fixtures/mcp-apis: two MCP servers and a REST API beside them). */
export const FIXTURE_MCP_APIS = join(ROOT, 'test', 'fixtures', 'mcp-apis');
/** Runs @modelcontextprotocol/conformance on Node 20 (node --import): scripts/conformance-node20.mjs. */
export const CONFORMANCE_NODE20 = join(ROOT, 'scripts', 'conformance-node20.mjs');
/** The conformance CLI (a devDependency, pinned). */
export const CONFORMANCE_CLI = join(ROOT, 'node_modules', '@modelcontextprotocol', 'conformance', 'dist', 'index.js');
