import type { FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import type { Latchkey } from '../app.js';
import { hostFailure, send, toNeutral, type HostError } from './fastify-neutral.js';
import { failure } from '../resource-server/provider.js';
import { apiFailure } from './api-plugin.js';
import { REQUEST_ID_HEADER } from './raw-token.js';

/** Where the hosted MCP servers live: /mcp/<namespace>/<id> (src/domain/resource-uri.ts mcpResourceUri). */
export const MCP_PREFIX = '/mcp';

/**
 * The hosted MCP servers. Latchkey admits the request (authentication, scopes and roles of the
 * server and of each tool called, rate limits: resource-server/mcp.ts); an admitted request is
 * handed, raw, to the MCP SDK's Streamable HTTP transport (reply.hijack(): the SDK writes the
 * answer). Refusals, 404 and 405 are answered here, in the APIs' error shape.
 */
export function hostedMcpPlugin(latchkey: Latchkey, bodyLimit: number): FastifyPluginAsync {
  return async (scope: FastifyInstance) => {
    const handler = async (req: FastifyRequest, reply: FastifyReply) => {
      const started = performance.now();
      const neutral = toNeutral(req);
      const admission = await latchkey.mcp.admit(neutral);
      const observe = latchkey.mcp.observe;
      if (admission.kind === 'respond') {
        observe?.(admission.server, admission.response.status, (performance.now() - started) / 1000);
        return send(reply, admission.response);
      }
      reply.hijack();
      const res = reply.raw;
      res.setHeader(REQUEST_ID_HEADER, req.id);
      if (observe !== undefined) res.on('finish', () => observe(admission.server, res.statusCode, (performance.now() - started) / 1000));
      try {
        await latchkey.mcp.serve(admission, req.raw, res, req.id);
      } catch (error) {
        latchkey.logger.error({ requestId: req.id, err: error }, 'MCP request failed');
        if (!res.headersSent) {
          const answer = failure(500, 'Internal error in the MCP server', `Quote request id ${req.id}.`);
          res.writeHead(answer.status, answer.headers).end(answer.body);
        } else if (!res.writableEnded) res.end();
      }
      return reply;
    };
    scope.route({ method: ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'], url: '/*', handler });
    scope.setErrorHandler(async (error: HostError, req, reply) => {
      const { status, message } = hostFailure(error, req.id, bodyLimit);
      if (status === 500) latchkey.logger.error({ requestId: req.id, err: error }, 'request failed');
      return send(reply, apiFailure(status, message, req.id));
    });
    scope.setNotFoundHandler((req, reply) => {
      const path = req.url.split('?')[0] ?? '/';
      return send(reply, failure(404, 'Requested URI does not represent any MCP server', path.slice(0, 200)));
    });
  };
}
