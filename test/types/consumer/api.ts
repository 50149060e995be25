// A hosted API module, as README.md shows it: `latchkey/api`.
import { ApiError, defineApi, type ApiDefinition, type ApiRequest, type ApiResponse, type Caller } from 'latchkey/api';

const api: ApiDefinition = defineApi({
  namespace: 'acme',
  id: 'orders',
  versions: ['v1', 'v2'],
  security: { scopes: ['orders.read'] },
  resources: [
    { method: 'GET', path: '/{id}', handler: ({ params, caller }) => ({ body: { id: params.id, for: caller.user?.name } }) },
    { method: 'POST', path: '/', security: { roles: ['itil'] }, handler: ({ body }) => ({ status: 201, body }) },
    {
      method: 'DELETE',
      path: '/{id}',
      handler: () => {
        throw new ApiError(409, 'Order is shipped', 'Cancel the shipment first');
      },
    },
  ],
});
export default api;

// A handler may be async and reads the caller's facts.
export async function whoami(request: ApiRequest): Promise<ApiResponse> {
  const caller: Caller = request.caller;
  const scopes: readonly string[] = caller.scopes;
  return { status: 200, body: { user: caller.user?.name ?? null, scopes } };
}

defineApi({
  namespace: 'acme',
  id: 'bad',
  // @ts-expect-error: HEAD is not a method an API resource declares
  resources: [{ method: 'HEAD', path: '/', handler: () => ({ body: null }) }],
});
// @ts-expect-error: ApiError takes a numeric status first
new ApiError('409', 'message');
