// Benchmark API: one handler (the whoami example's) served twice, with and without authentication,
// so bench/api-bearer.sh can measure what bearer validation costs on the same route shape. whoami's
// answer names the caller, so the authenticated one is longer; the ping pair answers the same body
// to everyone, so its two routes differ only in authentication.
import { defineApi } from 'latchkey/api';

const whoami = ({ caller }) => ({
  body: { user: caller.user?.name ?? null, roles: caller.user?.roles ?? [], application: caller.application, scopes: caller.scopes, authenticated_with: caller.method },
});

const ping = () => ({ body: { ok: true } });

export default defineApi({
  namespace: 'bench',
  id: 'whoami',
  versions: ['v1'],
  resources: [
    { method: 'GET', path: '/auth', handler: whoami },
    { method: 'GET', path: '/open', handler: whoami, security: { requiresAuthentication: false } },
    { method: 'GET', path: '/ping-auth', handler: ping },
    { method: 'GET', path: '/ping-open', handler: ping, security: { requiresAuthentication: false } },
  ],
});
