// Benchmark API: one handler (the whoami example's) served twice, with and without authentication,
// so bench/api-bearer.sh can measure what bearer validation costs on the same route shape.
import { defineApi } from 'latchkey/api';

const whoami = ({ caller }) => ({
  body: { user: caller.user?.name ?? null, roles: caller.user?.roles ?? [], application: caller.application, scopes: caller.scopes, authenticated_with: caller.method },
});

export default defineApi({
  namespace: 'bench',
  id: 'whoami',
  versions: ['v1'],
  resources: [
    { method: 'GET', path: '/auth', handler: whoami },
    { method: 'GET', path: '/open', handler: whoami, security: { requiresAuthentication: false } },
  ],
});
