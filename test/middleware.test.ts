import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import express from 'express';
import Fastify, { type FastifyInstance } from 'fastify';
import { generateKeyPair, SignJWT } from 'jose';
import { latchkeyExpress } from '../src/middleware/express.js';
import { latchkeyFastify } from '../src/middleware/fastify.js';
import type { VerifierOptions } from '../src/middleware/verifier.js';
import { refreshCache, tokenRequest } from './helpers/oauth.js';
import { buildFixture } from './helpers/fixture.js';
import { startTestServer, type TestServer } from './helpers/server.js';

const CC = 'glide.oauth.inbound.client.credential.grant_type.enabled';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Service {
  readonly name: string;
  readonly url: string;
  close(): Promise<void>;
}

/** An Express service of our users, protected by the middleware. */
async function expressService(options: VerifierOptions): Promise<Service> {
  const auth = latchkeyExpress(options);
  const app = express();
  app.get('/orders', auth.require('orders.read'), (req, res) => {
    res.json({ subject: req.latchkey?.subject, clientId: req.latchkey?.clientId, scopes: req.latchkey?.scopes, format: req.latchkey?.format });
  });
  app.get('/me', auth.require(), (req, res) => {
    res.json({ subject: req.latchkey?.subject });
  });
  const server = app.listen(0, '127.0.0.1');
  await new Promise<void>((resolve) => server.once('listening', () => resolve()));
  const { port } = server.address() as AddressInfo;
  return { name: 'express', url: `http://127.0.0.1:${port}`, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

/** The same service on Fastify. */
async function fastifyService(options: VerifierOptions): Promise<Service> {
  const auth = latchkeyFastify(options);
  const app: FastifyInstance = Fastify();
  app.get('/orders', { preHandler: auth.require('orders.read') }, async (req) => ({
    subject: req.latchkey?.subject,
    clientId: req.latchkey?.clientId,
    scopes: req.latchkey?.scopes,
    format: req.latchkey?.format,
  }));
  app.get('/me', { preHandler: auth.require() }, async (req) => ({ subject: req.latchkey?.subject }));
  const url = await app.listen({ port: 0, host: '127.0.0.1' });
  return { name: 'fastify', url, close: () => app.close() };
}

async function call(service: Service, path: string, authorization?: string) {
  const res = await fetch(`${service.url}${path}`, { headers: authorization === undefined ? {} : { authorization } });
  const text = await res.text();
  let json: Record<string, unknown> | undefined;
  try {
    json = JSON.parse(text) as Record<string, unknown>;
  } catch {
    json = undefined;
  }
  return { status: res.status, www: res.headers.get('www-authenticate'), json, text };
}

describe('middleware for other Node.js services (latchkey/express, latchkey/fastify)', () => {
  let server: TestServer;
  const apps: Record<string, { id: string; secret: string }> = {};
  const services: Service[] = [];

  async function token(app: string, scope?: string): Promise<string> {
    const res = await tokenRequest(server.url, { form: { grant_type: 'client_credentials', ...(scope === undefined ? {} : { scope }) }, basic: [apps[app]!.id, apps[app]!.secret] });
    assert.equal(res.status, 200, res.text);
    return String(res.json?.access_token);
  }

  before(async () => {
    server = await startTestServer();
    const built = await buildFixture(server, {
      scopes: ['orders.read', 'orders.write'],
      users: [{ userName: 'svc-orders' }],
      properties: { [CC]: 'true' },
      apps: {
        jwt: { name: 'JWT caller', grantTypes: ['client_credentials'], appUser: 'svc-orders', scopes: ['orders.read', 'orders.write'], tokenFormat: 'jwt' },
        opaque: { name: 'Opaque caller', grantTypes: ['client_credentials'], appUser: 'svc-orders', scopes: ['orders.read', 'orders.write'] },
        shortJwt: { name: 'Short JWT', grantTypes: ['client_credentials'], appUser: 'svc-orders', scopes: ['orders.read'], tokenFormat: 'jwt', accessTokenLifespan: 2 },
        rs: { name: 'Orders service', grantTypes: [], canIntrospect: true },
      },
    });
    for (const [key, a] of Object.entries(built.apps)) apps[key] = { id: a.clientId, secret: a.secret };
    const options: VerifierOptions = {
      issuer: server.url,
      introspection: { clientId: apps.rs!.id, clientSecret: apps.rs!.secret },
      cacheTtlMs: 300,
      clockToleranceSec: 0,
    };
    services.push(await expressService(options), await fastifyService(options));
  });
  after(async () => {
    for (const s of services) await s.close();
    await server.close();
  });

  for (const kind of ['express', 'fastify']) {
    const svc = () => services.find((s) => s.name === kind)!;

    describe(kind, () => {
      it('accepts a JWT access token, verified locally, and exposes the caller and scopes', async () => {
        const r = await call(svc(), '/orders', `Bearer ${await token('jwt', 'orders.read')}`);
        assert.equal(r.status, 200, r.text);
        assert.equal(r.json?.subject, 'svc-orders');
        assert.equal(r.json?.clientId, apps.jwt!.id);
        assert.deepEqual(r.json?.scopes, ['orders.read']);
        assert.equal(r.json?.format, 'jwt');
      });

      it('accepts an opaque token through introspection', async () => {
        const r = await call(svc(), '/orders', `Bearer ${await token('opaque', 'orders.read')}`);
        assert.equal(r.status, 200, r.text);
        assert.equal(r.json?.subject, 'svc-orders');
        assert.equal(r.json?.format, 'opaque');
      });

      it('refuses a request without a token: 401 with a bare Bearer challenge (RFC 6750 §3.1)', async () => {
        const r = await call(svc(), '/me');
        assert.equal(r.status, 401);
        assert.equal(r.www, 'Bearer realm="api"');
      });

      it('refuses a malformed Authorization header with 400 invalid_request', async () => {
        const r = await call(svc(), '/me', 'Bearer two tokens');
        assert.equal(r.status, 400);
        assert.equal(r.json?.error, 'invalid_request');
      });

      it('refuses a token lacking the scope: 403 insufficient_scope naming the scope', async () => {
        const r = await call(svc(), '/orders', `Bearer ${await token('jwt', 'orders.write')}`);
        assert.equal(r.status, 403);
        assert.equal(r.json?.error, 'insufficient_scope');
        assert.match(r.www ?? '', /^Bearer realm="api", error="insufficient_scope", scope="orders\.read", error_description="[^"]+"$/);
      });

      it('refuses a tampered JWT, an unknown opaque token, and a JWT from another issuer with invalid_token', async () => {
        const good = await token('jwt', 'orders.read');
        const [h, p, s] = good.split('.');
        const tampered = `${h}.${p}.${s!.slice(0, -4)}${s!.slice(-4) === 'AAAA' ? 'BBBB' : 'AAAA'}`;
        const { privateKey } = await generateKeyPair('ES256');
        const foreign = await new SignJWT({ scope: 'orders.read', client_id: 'x' })
          .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: 'k' })
          .setIssuer('https://elsewhere.example')
          .setAudience(server.url)
          .setSubject('svc-orders')
          .setIssuedAt()
          .setExpirationTime('5m')
          .sign(privateKey);
        for (const bad of [tampered, 'lk_at_000000000000.not-a-real-token', foreign]) {
          const r = await call(svc(), '/orders', `Bearer ${bad}`);
          assert.equal(r.status, 401, `${bad.slice(0, 20)}: ${r.text}`);
          assert.equal(r.json?.error, 'invalid_token');
          assert.match(r.www ?? '', /^Bearer realm="api", error="invalid_token", error_description="[^"]+"$/);
        }
      });

      it('refuses an expired JWT', async () => {
        // exp is in whole seconds (iat rounded down + 2): the token lives between 1 and 2 s. A
        // 1-second lifespan could expire within milliseconds of being issued, and did once in CI.
        const t = await token('shortJwt', 'orders.read');
        assert.equal((await call(svc(), '/orders', `Bearer ${t}`)).status, 200);
        await sleep(2100);
        const r = await call(svc(), '/orders', `Bearer ${t}`);
        assert.equal(r.status, 401);
        assert.match(r.json?.error_description as string, /expired/);
      });

      it('refuses a revoked opaque token once the short introspection cache lapses', async () => {
        const t = await token('opaque', 'orders.read');
        assert.equal((await call(svc(), '/orders', `Bearer ${t}`)).status, 200);
        const revoke = await tokenRequest(server.url, { path: '/oauth/revoke', form: { token: t }, basic: [apps.opaque!.id, apps.opaque!.secret] });
        assert.equal(revoke.status, 200, revoke.text);
        await sleep(400);
        const r = await call(svc(), '/orders', `Bearer ${t}`);
        assert.equal(r.status, 401);
        assert.equal(r.json?.error, 'invalid_token');
      });
    });
  }

  it('keeps validating across a key rotation: old tokens still verify, and a new key reaches a middleware that cached the old JWKS', async () => {
    // A service that has fetched (and cached) the JWKS before the rotation.
    const cached = await fastifyService({ issuer: server.url, jwksCooldownMs: 0 });
    try {
      const before = await token('jwt', 'orders.read');
      assert.equal((await call(cached, '/orders', `Bearer ${before}`)).status, 200);
      const oldKid = JSON.parse(Buffer.from(before.split('.')[0]!, 'base64url').toString()).kid as string;

      await server.latchkey.keyring.rotate({ prepublishMs: 0 });
      await refreshCache(server);
      const afterRotation = await token('jwt', 'orders.read');
      const newKid = JSON.parse(Buffer.from(afterRotation.split('.')[0]!, 'base64url').toString()).kid as string;
      assert.notEqual(newKid, oldKid, 'the token after the rotation is signed with the new key');

      // The new key is not in the cached JWKS: the middleware refetches on the unknown kid.
      const fresh = await call(cached, '/orders', `Bearer ${afterRotation}`);
      assert.equal(fresh.status, 200, fresh.text);
      // The old key stays published until its tokens have expired.
      const old = await call(cached, '/orders', `Bearer ${before}`);
      assert.equal(old.status, 200, old.text);
      // Services that never saw the new key keep accepting the token from before the rotation.
      for (const s of services) assert.equal((await call(s, '/orders', `Bearer ${before}`)).status, 200);
    } finally {
      await cached.close();
    }
  });

  it('answers 503 (not 401) when Latchkey cannot be reached to check a token', async () => {
    const down = await expressService({ issuer: 'http://127.0.0.1:9', introspection: { clientId: 'a', clientSecret: 'b' }, timeoutMs: 500 });
    try {
      const r = await call(down, '/me', 'Bearer lk_at_000000000000.abc');
      assert.equal(r.status, 503);
      assert.equal(r.json?.error, 'temporarily_unavailable');
    } finally {
      await down.close();
    }
  });
});
