import { defineMcpServer } from 'latchkey/api';

/**
 * An example hosted MCP server, served out of the box at /mcp/now/assistant (its resource
 * identifier is <issuer>/mcp/now/assistant). Any valid access token may connect and call
 * `whoami`; `echo` needs a token with the scope `mcp.echo`, and a token without it gets a 403
 * insufficient_scope naming the scope (the MCP step-up).
 *
 * Connect an MCP client (its URL: http://localhost:8080/mcp/now/assistant) with a bearer token, for
 * example from the client credentials grant (README, Quick start). docs/agents-and-mcp.md says more.
 */
export default defineMcpServer({
  namespace: 'now',
  id: 'assistant',
  name: 'Latchkey assistant',
  description: 'Example tools: who the caller is, and an echo that needs the scope mcp.echo.',
  tools: [
    {
      name: 'whoami',
      description: 'Tells who Latchkey thinks the caller is: user, roles, application and scopes in effect.',
      inputSchema: { type: 'object', properties: {} },
      handler: ({ caller }) => ({
        user: caller.user?.name ?? null,
        roles: caller.user?.roles ?? [],
        application: caller.application,
        scopes: caller.scopes,
      }),
    },
    {
      name: 'echo',
      description: 'Repeats the text it is given.',
      inputSchema: { type: 'object', properties: { text: { type: 'string', maxLength: 1000 } }, required: ['text'], additionalProperties: false },
      security: { scopes: ['mcp.echo'] },
      handler: ({ arguments: args }) => String(args.text),
    },
  ],
});
