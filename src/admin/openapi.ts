import { z } from 'zod';
import { ADMIN_API_PREFIX, ADMIN_ROUTES, type AdminRoute } from './routes.js';

/**
 * The OpenAPI 3.1 description of the admin API, built from the route table itself (so it cannot
 * drift from what is served). Served without authentication at GET /admin/api/openapi.json: it
 * holds no data, only the shape of the API, which is also in the source and docs/admin-api.md.
 */

/** `/applications/:clientId` → `/applications/{clientId}` */
export function openApiPath(route: Pick<AdminRoute, 'path'>): string {
  return `${ADMIN_API_PREFIX}${route.path.replace(/:([A-Za-z0-9_]+)/g, '{$1}')}`;
}

const ERROR_SCHEMA = {
  type: 'object',
  required: ['error', 'message'],
  properties: { error: { type: 'string' }, message: { type: 'string' }, field: { type: 'string' } },
};

function bodySchema(schema: z.ZodType): unknown {
  try {
    return z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' });
  } catch {
    return { type: 'object' };
  }
}

export function openApiDocument(version: string): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const route of ADMIN_ROUTES) {
    const path = openApiPath(route);
    const params = [...route.path.matchAll(/:([A-Za-z0-9_]+)/g)].map((m) => ({ name: m[1], in: 'path', required: true, schema: { type: 'string' } }));
    const query = (route.query ?? []).map((q) => ({ name: q.name, in: 'query', required: false, description: q.description, schema: { type: q.type ?? 'string' } }));
    const stateChanging = route.method !== 'GET';
    const error = (description: string) => ({ description, content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } });
    const operation: Record<string, unknown> = {
      operationId: `${route.method.toLowerCase()}${route.path.replace(/[/:-]+([A-Za-z0-9])/g, (_m, c: string) => c.toUpperCase())}`,
      summary: route.summary,
      tags: [route.tag],
      ...(params.length + query.length > 0 ? { parameters: [...params, ...query] } : {}),
      ...(route.body === undefined ? {} : { requestBody: { required: true, content: { 'application/json': { schema: bodySchema(route.body) } } } }),
      ...(route.textBody === undefined ? {} : { requestBody: { required: true, content: Object.fromEntries(route.textBody.contentTypes.map((type) => [type, { schema: bodySchema(route.textBody?.schema as z.ZodType) }])) } }),
      responses: {
        [String(route.status ?? 200)]: { description: 'Success', content: Object.fromEntries((route.produces ?? ['application/json']).map((type) => [type, { schema: {} }])) },
        '400': error('Invalid input (the field is named when there is one)'),
        '401': error('Not authenticated: no console session and no bearer token, or the token was refused'),
        '403': error(stateChanging ? 'Not an admin, or (cookie sessions) the x-csrf-token header is missing or wrong ("error": "csrf")' : 'Not an admin'),
        '404': error('Not found'),
        '409': error('Conflict (exists already, or in use)'),
      },
      security: stateChanging ? [{ consoleSession: [], csrfToken: [] }, { bearer: [] }] : [{ consoleSession: [] }, { bearer: [] }],
    };
    (paths[path] ??= {})[route.method.toLowerCase()] = operation;
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'Latchkey admin API',
      version,
      description:
        'Administration of this Latchkey instance. Every route needs the admin role: a console session cookie (with the x-csrf-token header on POST, PUT, PATCH and DELETE; read the token from GET /admin/api/v1/session) or Authorization: Bearer <access token of a user with the admin role>. Errors are {"error", "message", "field"?}.',
    },
    paths,
    components: {
      schemas: { Error: ERROR_SCHEMA },
      securitySchemes: {
        consoleSession: { type: 'apiKey', in: 'cookie', name: 'latchkey_console', description: 'The console session cookie (named __Host-latchkey_console on https), set by signing in at /console/login.' },
        csrfToken: { type: 'apiKey', in: 'header', name: 'x-csrf-token', description: 'With a console session: required on every state-changing request; GET /admin/api/v1/session returns it.' },
        bearer: { type: 'http', scheme: 'bearer', description: 'An access token of this instance whose user has the admin role.' },
      },
    },
  };
}
