import { z } from 'zod';
import { createIdentityProvider, listIdentityProviders, removeIdentityProvider, updateIdentityProvider } from '../../idp/registry.js';
import { DEFAULT_PREPUBLISH_MS, keyStates, SIGNING_ALGORITHMS } from '../../keys/keyring.js';
import { AdminError } from '../http.js';
import { deps, refreshed } from './helpers.js';
import type { AdminRoute } from './types.js';
import { idpView, parseJson } from './views.js';

/** Signing keys and the identity providers whose JWTs the APIs accept. */

const RotateKey = z.strictObject({ alg: z.enum(SIGNING_ALGORITHMS as unknown as [string, ...string[]]).optional(), now: z.boolean().optional() });
const idpFields = {
  name: z.string().min(1).max(100),
  issuer: z.string().max(2000),
  metadataUrl: z.string().max(2000),
  jwksUri: z.string().max(2000),
  audience: z.string().max(500),
  userClaim: z.string().max(100),
  userField: z.enum(['user_name', 'id']),
  active: z.boolean(),
  check: z.boolean(),
};
const CreateIdp = z.strictObject({
  name: idpFields.name,
  issuer: idpFields.issuer,
  metadataUrl: idpFields.metadataUrl.optional(),
  jwksUri: idpFields.jwksUri.optional(),
  audience: idpFields.audience,
  userClaim: idpFields.userClaim.optional(),
  userField: idpFields.userField.optional(),
  active: idpFields.active.optional(),
  check: idpFields.check.optional(),
});
const UpdateIdp = CreateIdp.partial();

const KEY_ROUTES: readonly AdminRoute[] = [
  {
    method: 'GET',
    path: '/keys',
    tag: 'keys',
    summary: 'The signing keys and their states (public parts only)',
    async handler(ctx) {
      const now = ctx.latchkey.clock.now();
      const list = [...(await ctx.latchkey.storage.keys.list())].sort((a, b) => a.activatesAt - b.activatesAt || a.createdAt - b.createdAt);
      const states = keyStates(list, now);
      return list.map((k) => ({ kid: k.kid, alg: k.alg, purpose: k.purpose ?? 'access', state: states.get(k.kid) ?? null, publicJwk: parseJson(k.publicJwk), createdAt: k.createdAt, activatesAt: k.activatesAt, retiresAt: k.retiresAt, publishUntil: k.publishUntil }));
    },
  },
  {
    method: 'POST',
    path: '/keys/rotate',
    tag: 'keys',
    summary: 'Adds a new signing key (signing after 10 minutes, or at once with now: true)',
    body: RotateKey,
    async handler(ctx) {
      const body = ctx.body as z.infer<typeof RotateKey>;
      if (!ctx.latchkey.keyring.canSign) throw new AdminError(409, 'no_key_encryption_key', 'This instance has no key-encryption key, so it cannot create signing keys: set LATCHKEY_KEY_ENCRYPTION_KEY.');
      // The keyring audits the rotation under this actor.
      const result = await ctx.latchkey.keyring.rotate({ ...(body.alg === undefined ? {} : { alg: body.alg as 'ES256' | 'RS256' }), prepublishMs: body.now === true ? 0 : DEFAULT_PREPUBLISH_MS, actor: ctx.caller.userName });
      if (!result.rotated) throw new AdminError(409, 'conflict', 'Another rotation is running on this database right now. Try again in a moment.');
      return { key: { kid: result.key.kid, alg: result.key.alg, activatesAt: result.key.activatesAt }, retired: result.retired.map((k) => k.kid) };
    },
  },
];

const IDP_ROUTES: readonly AdminRoute[] = [
  {
    method: 'GET',
    path: '/idps',
    tag: 'idps',
    summary: 'The identity providers whose JWTs the APIs accept',
    handler: async (ctx) => (await listIdentityProviders(ctx.latchkey)).map(idpView),
  },
  {
    method: 'POST',
    path: '/idps',
    tag: 'idps',
    status: 201,
    summary: 'Registers an identity provider (its metadata / JWKS are fetched to check them unless check: false)',
    body: CreateIdp,
    async handler(ctx) {
      return refreshed(ctx, await createIdentityProvider({ ...deps(ctx), fetcher: ctx.latchkey.outbound }, ctx.body as z.infer<typeof CreateIdp>));
    },
  },
  {
    method: 'PATCH',
    path: '/idps/:name',
    tag: 'idps',
    summary: 'Changes an identity provider',
    body: UpdateIdp,
    async handler(ctx) {
      return refreshed(ctx, await updateIdentityProvider({ ...deps(ctx), fetcher: ctx.latchkey.outbound }, ctx.params.name ?? '', ctx.body as z.infer<typeof UpdateIdp>));
    },
  },
  {
    method: 'DELETE',
    path: '/idps/:name',
    tag: 'idps',
    summary: 'Removes an identity provider',
    async handler(ctx) {
      const removed = await refreshed(ctx, await removeIdentityProvider(deps(ctx), ctx.params.name ?? ''));
      return { removed: idpView(removed) };
    },
  },
];

export const KEY_IDP_ROUTES: readonly AdminRoute[] = [...KEY_ROUTES, ...IDP_ROUTES];
