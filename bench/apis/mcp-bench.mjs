// Benchmark MCP servers: one tool (the same handler) on a server that requires a bearer token and
// on one with requiresAuthentication false, so bench/mcp-tool-call.sh can measure what bearer
// validation costs on a tools/call through a hosted MCP server.
import { defineMcpServer } from 'latchkey/api';

const ping = {
  name: 'ping',
  description: 'Answers pong and the caller.',
  inputSchema: { type: 'object', properties: { n: { type: 'number' } } },
  handler: ({ arguments: args, caller }) => ({ pong: true, n: args.n ?? null, user: caller.user?.name ?? null }),
};

export const servers = [
  defineMcpServer({ namespace: 'bench', id: 'tools', name: 'Bench tools (bearer)', tools: [ping] }),
  defineMcpServer({ namespace: 'bench', id: 'tools-open', name: 'Bench tools (open)', security: { requiresAuthentication: false }, tools: [ping] }),
];
export default servers[0];
