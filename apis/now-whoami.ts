import { defineApi } from 'latchkey/api';

/**
 * An example API, served out of the box: it tells the caller who Latchkey thinks they are.
 *
 *   curl -H "Authorization: Bearer $TOKEN" http://localhost:8080/api/now/v1/whoami
 *
 * Copy this file to start your own: one module per API in ./apis (or --apis / LATCHKEY_APIS).
 */
export default defineApi({
  namespace: 'now',
  id: 'whoami',
  name: 'Who am I',
  description: 'Returns the identity of the caller: user, roles, application, scopes in effect.',
  versions: ['v1'],
  // Requires a bearer token (the default); no particular scope or role.
  resources: [
    {
      method: 'GET',
      path: '/',
      description: 'The caller, as this instance sees it',
      handler: ({ caller }) => ({
        body: {
          user: caller.user?.name ?? null,
          roles: caller.user?.roles ?? [],
          application: caller.application,
          scopes: caller.scopes,
          authenticated_with: caller.method,
        },
      }),
    },
  ],
});
