import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT, type JWK, type JWTPayload } from 'jose';

/**
 * A stand-in external identity provider on 127.0.0.1:0: its own signing keys (jose), an OpenID
 * discovery document and RFC 8414 metadata, a JWKS, and a `mint` for tokens with any claims. It
 * counts requests (to prove caching and cooldowns), can rotate its key (to prove refetch on an
 * unknown kid), and can hang or fail (to prove bounded, clean refusals).
 */

export type IdpAlg = 'ES256' | 'RS256' | 'PS256' | 'EdDSA';

export interface IdpKey {
  readonly kid: string;
  readonly alg: IdpAlg;
  readonly privateKey: CryptoKey;
  readonly publicJwk: JWK;
}

export interface MintOptions {
  /** Sign with this key instead of the current one (it need not be published). */
  readonly key?: IdpKey;
  /** Put this kid in the header instead of the key's. */
  readonly kid?: string;
  /** Omit the kid header. */
  readonly noKid?: boolean;
  readonly typ?: string;
}

export interface IdpServer {
  /** http://127.0.0.1:<port> */
  readonly origin: string;
  /** The issuer identifier (origin + issuer path). */
  readonly issuer: string;
  /** OpenID Connect Discovery: <issuer>/.well-known/openid-configuration */
  readonly oidcMetadataUrl: string;
  /** RFC 8414: <origin>/.well-known/oauth-authorization-server<issuer path> */
  readonly oauthMetadataUrl: string;
  readonly jwksUri: string;
  /** The key new tokens are signed with. */
  readonly current: IdpKey;
  /** Keys currently published in the JWKS. */
  readonly published: readonly IdpKey[];
  /** Requests served per path kind. */
  readonly requests: { jwks: number; metadata: number };
  /** While true, metadata and JWKS requests are never answered. */
  hang: boolean;
  /** When set, metadata and JWKS requests are answered with this status. */
  failWith: number | undefined;
  /** The issuer the metadata documents claim (default: the real one), to test a mismatch. */
  metadataIssuer: string | undefined;
  /** A signed JWT; `claims` win over the defaults (iss = issuer, iat = now, exp = now + 300 s, jti). */
  mint(claims?: JWTPayload, options?: MintOptions): Promise<string>;
  /** A new key, not published: for forged or unknown-kid tokens. */
  newKey(alg?: IdpAlg): Promise<IdpKey>;
  /**
   * Starts signing with a new key; publishes it next to the old one (or alone with `dropOld`).
   * Returns the new key.
   */
  rotate(options?: { dropOld?: boolean; alg?: IdpAlg }): Promise<IdpKey>;
  close(): Promise<void>;
}

export interface IdpServerOptions {
  readonly alg?: IdpAlg;
  /** Path part of the issuer (default /realms/test). */
  readonly issuerPath?: string;
  /** The clock tokens are stamped with (ms), default Date.now. */
  readonly now?: () => number;
}

async function makeKey(alg: IdpAlg): Promise<IdpKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const kid = randomUUID();
  const publicJwk = { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' };
  return { kid, alg, privateKey: privateKey as CryptoKey, publicJwk };
}

export async function startIdpServer(options: IdpServerOptions = {}): Promise<IdpServer> {
  const alg = options.alg ?? 'ES256';
  const now = options.now ?? (() => Date.now());
  const issuerPath = options.issuerPath ?? '/realms/test';
  let current = await makeKey(alg);
  let published: IdpKey[] = [current];
  const requests = { jwks: 0, metadata: 0 };
  const hanging = new Set<ServerResponse>();

  const state = {
    hang: false,
    failWith: undefined as number | undefined,
    metadataIssuer: undefined as string | undefined,
  };
  let origin = '';
  const issuer = () => `${origin}${issuerPath}`;
  const jwksPath = `${issuerPath}/protocol/openid-connect/certs`;

  const metadata = () => ({
    issuer: state.metadataIssuer ?? issuer(),
    authorization_endpoint: `${issuer()}/protocol/openid-connect/auth`,
    token_endpoint: `${issuer()}/protocol/openid-connect/token`,
    jwks_uri: `${origin}${jwksPath}`,
    response_types_supported: ['code'],
    subject_types_supported: ['public'],
    id_token_signing_alg_values_supported: [alg],
  });

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    const isJwks = path === jwksPath;
    const isMetadata = path === `${issuerPath}/.well-known/openid-configuration` || path === `/.well-known/oauth-authorization-server${issuerPath}`;
    if (!isJwks && !isMetadata) {
      res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"not_found"}');
      return;
    }
    if (isJwks) requests.jwks++;
    else requests.metadata++;
    if (state.hang) {
      hanging.add(res);
      res.on('close', () => hanging.delete(res));
      return;
    }
    if (state.failWith !== undefined) {
      res.writeHead(state.failWith, { 'content-type': 'text/plain' }).end('unavailable');
      return;
    }
    const body = isJwks ? { keys: published.map((k) => k.publicJwk) } : metadata();
    res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' }).end(JSON.stringify(body));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const idp: IdpServer = {
    origin,
    issuer: issuer(),
    oidcMetadataUrl: `${issuer()}/.well-known/openid-configuration`,
    oauthMetadataUrl: `${origin}/.well-known/oauth-authorization-server${issuerPath}`,
    jwksUri: `${origin}${jwksPath}`,
    get current() {
      return current;
    },
    get published() {
      return published;
    },
    requests,
    get hang() {
      return state.hang;
    },
    set hang(v: boolean) {
      state.hang = v;
    },
    get failWith() {
      return state.failWith;
    },
    set failWith(v: number | undefined) {
      state.failWith = v;
    },
    get metadataIssuer() {
      return state.metadataIssuer;
    },
    set metadataIssuer(v: string | undefined) {
      state.metadataIssuer = v;
    },
    async mint(claims = {}, mintOptions = {}) {
      const key = mintOptions.key ?? current;
      const t = Math.floor(now() / 1000);
      const payload: JWTPayload = { iss: issuer(), iat: t, exp: t + 300, jti: randomUUID(), ...claims };
      for (const [k, v] of Object.entries(payload)) if (v === undefined) delete payload[k];
      const header: { alg: string; kid?: string; typ?: string } = { alg: key.alg, typ: mintOptions.typ ?? 'at+jwt' };
      if (mintOptions.noKid !== true) header.kid = mintOptions.kid ?? key.kid;
      return new SignJWT(payload).setProtectedHeader(header).sign(key.privateKey);
    },
    newKey: (a) => makeKey(a ?? alg),
    async rotate(rotateOptions = {}) {
      current = await makeKey(rotateOptions.alg ?? alg);
      published = rotateOptions.dropOld === true ? [current] : [...published, current];
      return current;
    },
    async close() {
      for (const res of hanging) res.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  return idp;
}

/** A fresh key pair with a random kid (for a client's own keys in private_key_jwt and JWT bearer tests). */
export function generateTestKey(alg: IdpAlg = 'ES256'): Promise<IdpKey> {
  return makeKey(alg);
}

/** A JWKS document (JSON text) publishing the public halves of `keys`. */
export function jwksOf(...keys: IdpKey[]): string {
  return JSON.stringify({ keys: keys.map((k) => k.publicJwk) });
}

export interface AssertionOptions {
  /** Header kid (default the key's; null for none). */
  readonly kid?: string | null;
  /** Sign with HS256 and this secret instead (a refused algorithm). */
  readonly hmacSecret?: string;
}

/**
 * An RFC 7523 assertion: `claims` (undefined values removed) signed with `key`. Defaults: iat now,
 * exp in 60 s, a random jti; iss, sub and aud as the caller gives.
 */
export async function signAssertion(key: IdpKey, claims: JWTPayload, options: AssertionOptions = {}, nowMs = Date.now()): Promise<string> {
  const t = Math.floor(nowMs / 1000);
  const payload: JWTPayload = { iat: t, exp: t + 60, jti: randomUUID(), ...claims };
  for (const [k, v] of Object.entries(payload)) if (v === undefined) delete payload[k];
  if (options.hmacSecret !== undefined) {
    return new SignJWT(payload).setProtectedHeader({ alg: 'HS256', ...(options.kid === null ? {} : { kid: options.kid ?? key.kid }) }).sign(new TextEncoder().encode(options.hmacSecret));
  }
  const header: { alg: string; kid?: string } = { alg: key.alg };
  if (options.kid !== null) header.kid = options.kid ?? key.kid;
  return new SignJWT(payload).setProtectedHeader(header).sign(key.privateKey);
}
