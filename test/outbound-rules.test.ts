import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { classifyAddress } from '../src/outbound/address.js';
import { createOutboundFetcher, OutboundFailed, OutboundRefused, type Resolver } from '../src/outbound/fetch.js';
import { checkOutboundUrl } from '../src/outbound/url.js';

/**
 * The outbound rules (src/outbound) without a Latchkey server: which addresses and URLs are
 * refused, and how the fetcher resolves, checks, pins the checked address and bounds a fetch. The
 * resolver is injected, so no test depends on real DNS. The attacks over HTTP are in
 * outbound.test.ts.
 */

const OFF = { allowPrivateNetworks: false };
const ON = { allowPrivateNetworks: true };

describe('outbound address rules', () => {
  const cases: [string, string | undefined, 'private' | 'never' | undefined][] = [
    ['8.8.8.8', undefined, undefined],
    ['2606:4700::1111', undefined, undefined],
    ['127.0.0.1', '127.0.0.0/8', 'private'],
    ['127.255.1.2', '127.0.0.0/8', 'private'],
    ['10.0.0.5', '10.0.0.0/8', 'private'],
    ['172.16.0.1', '172.16.0.0/12', 'private'],
    ['172.31.255.255', '172.16.0.0/12', 'private'],
    ['172.32.0.1', undefined, undefined],
    ['192.168.1.1', '192.168.0.0/16', 'private'],
    ['100.64.0.1', '100.64.0.0/10', 'private'],
    ['100.128.0.1', undefined, undefined],
    ['169.254.1.1', '169.254.0.0/16', 'private'],
    ['169.254.169.254', '169.254.169.254/32', 'never'],
    ['0.0.0.0', '0.0.0.0/8', 'never'],
    ['0.1.2.3', '0.0.0.0/8', 'never'],
    ['224.0.0.1', '224.0.0.0/4', 'never'],
    ['255.255.255.255', '255.255.255.255/32', 'never'],
    ['240.0.0.1', '240.0.0.0/4', 'never'],
    ['192.0.2.10', '192.0.2.0/24', 'private'],
    ['198.18.0.1', '198.18.0.0/15', 'private'],
    ['::1', '::1/128', 'private'],
    ['::', '::/128', 'never'],
    ['::ffff:127.0.0.1', '127.0.0.0/8', 'private'],
    ['::ffff:7f00:1', '127.0.0.0/8', 'private'],
    ['::ffff:a00:5', '10.0.0.0/8', 'private'],
    ['::ffff:169.254.169.254', '169.254.169.254/32', 'never'],
    ['::ffff:8.8.8.8', undefined, undefined],
    ['::127.0.0.1', '127.0.0.0/8', 'private'],
    ['64:ff9b::a00:5', '10.0.0.0/8', 'private'],
    ['2002:a00:5::1', '10.0.0.0/8', 'private'],
    ['fc00::1', 'fc00::/7', 'private'],
    ['fd12:3456::1', 'fc00::/7', 'private'],
    ['fd00:ec2::254', 'fd00:ec2::254/128', 'never'],
    ['fe80::1', 'fe80::/10', 'private'],
    ['fe80::1%eth0', 'fe80::/10', 'private'],
    ['ff02::1', 'ff00::/8', 'never'],
    ['2001:db8::1', '2001:db8::/32', 'private'],
    ['not-an-ip', '-', 'never'],
  ];
  for (const [ip, range, tier] of cases) {
    it(`${ip} -> ${range ?? 'public'}`, () => {
      const match = classifyAddress(ip);
      assert.equal(match?.range, range);
      assert.equal(match?.tier, tier);
    });
  }

  it('URLs: https to public hosts only by default; http and private literals with the property; never-tier always refused', () => {
    const refused = (url: string, policy = OFF) => {
      const r = checkOutboundUrl(url, policy);
      return 'refused' in r ? r.refused : undefined;
    };
    assert.equal(refused('https://keys.example.com/jwks'), undefined);
    assert.equal(refused('https://8.8.8.8/jwks'), undefined);
    assert.match(refused('http://keys.example.com/jwks') ?? '', /it uses http; the scheme must be https \(http only while latchkey\.outbound\.allow_private_networks is true/);
    assert.match(refused('ftp://keys.example.com/jwks', ON) ?? '', /it uses ftp; the scheme must be https or http/);
    assert.match(refused('https://user:pw@keys.example.com/jwks') ?? '', /user name or password/);
    assert.match(refused('https://10.0.0.5/jwks') ?? '', /^10\.0\.0\.5 is a private address \(10\.0\.0\.0\/8\); set latchkey\.outbound\.allow_private_networks to true only for test networks$/);
    // Other spellings of an address are normalised by the URL parser before the check.
    assert.match(refused('https://2130706433/jwks') ?? '', /^127\.0\.0\.1 is a loopback address/);
    assert.match(refused('https://0x7f.1/jwks') ?? '', /^127\.0\.0\.1 is a loopback address/);
    assert.match(refused('https://[::ffff:10.0.0.5]/jwks') ?? '', /IPv4-mapped form of 10\.0\.0\.5, a private address/);
    assert.match(refused('https://localhost/jwks') ?? '', /localhost is a loopback name/);
    assert.match(refused('https://keys.localhost./jwks') ?? '', /is a loopback name/);
    assert.equal(refused('http://127.0.0.1:8080/jwks', ON), undefined);
    assert.equal(refused('http://localhost:8080/jwks', ON), undefined);
    assert.match(refused('http://169.254.169.254/latest/meta-data/', ON) ?? '', /the cloud metadata address \(169\.254\.169\.254\/32\), which is never fetched/);
    assert.match(refused('http://0.0.0.0:8080/', ON) ?? '', /never fetched/);
  });
});

/** A loopback server whose answers the tests choose; counts and remembers requests. */
async function startStub(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<{ server: Server; port: number; seen: IncomingMessage[] }> {
  const seen: IncomingMessage[] = [];
  const server = createServer((req, res) => {
    seen.push(req);
    handler(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, port: (server.address() as AddressInfo).port, seen };
}

describe('the outbound fetcher', () => {
  let stub: Awaited<ReturnType<typeof startStub>>;
  let hanging: ServerResponse[] = [];
  before(async () => {
    stub = await startStub((req, res) => {
      if (req.url === '/jwks') res.writeHead(200, { 'content-type': 'application/json' }).end('{"keys":[]}');
      else if (req.url === '/redirect') res.writeHead(302, { location: '/jwks' }).end();
      else if (req.url === '/big') res.writeHead(200, { 'content-type': 'application/json' }).end('x'.repeat(2 * 1024 * 1024));
      else if (req.url === '/hang') hanging.push(res);
      else res.writeHead(404).end();
    });
  });
  after(async () => {
    for (const res of hanging) res.destroy();
    hanging = [];
    await new Promise((resolve) => stub.server.close(resolve));
  });

  /** A resolver that knows a few names (so no test depends on real DNS). */
  const names = (table: Record<string, string[]>): Resolver => async (host) => {
    const found = table[host];
    if (found === undefined) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND' });
    return found.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
  };

  it('a host name that resolves to a private address is refused after DNS, before any connection', async () => {
    const fetcher = createOutboundFetcher({ policy: () => OFF, resolve: names({ 'keys.example.test': ['10.0.0.5'] }) });
    await assert.rejects(fetcher.get('https://keys.example.test/jwks'), (e: unknown) => {
      assert.ok(e instanceof OutboundRefused);
      assert.equal(e.message, 'GET https://keys.example.test/jwks was refused by the outbound rules: keys.example.test resolves to 10.0.0.5, which is a private address (10.0.0.0/8); set latchkey.outbound.allow_private_networks to true only for test networks');
      return true;
    });
  });

  it('a host with one public and one private address is refused (the socket could reach either)', async () => {
    const fetcher = createOutboundFetcher({ policy: () => OFF, resolve: names({ 'mixed.example.test': ['93.184.216.34', '::ffff:127.0.0.1'] }) });
    await assert.rejects(fetcher.get('https://mixed.example.test/jwks'), (e: unknown) => e instanceof OutboundRefused && /resolves to ::ffff:127\.0\.0\.1, which is an IPv4-mapped form of 127\.0\.0\.1, a loopback address/.test(e.message));
  });

  it('connects to the address that was checked, not to a second DNS answer (no rebinding), with the host name in the Host header', async () => {
    let lookups = 0;
    // Answers loopback once, then a metadata address: only the first answer may be used.
    const rebinding: Resolver = async () => (lookups++ === 0 ? [{ address: '127.0.0.1', family: 4 }] : [{ address: '169.254.169.254', family: 4 }]);
    const fetcher = createOutboundFetcher({ policy: () => ON, resolve: rebinding });
    const before = stub.seen.length;
    const res = await fetcher.get(`http://rebind.example.test:${stub.port}/jwks`);
    assert.equal(res.status, 200);
    assert.equal(res.body.toString(), '{"keys":[]}');
    assert.equal(lookups, 1, 'one resolution per fetch; the socket got the checked address');
    assert.equal(stub.seen.length, before + 1);
    assert.equal(stub.seen.at(-1)?.headers.host, `rebind.example.test:${stub.port}`);
  });

  it('reads the property on every fetch', async () => {
    let policy = OFF;
    const fetcher = createOutboundFetcher({ policy: () => policy });
    await assert.rejects(fetcher.get(`http://127.0.0.1:${stub.port}/jwks`), OutboundRefused);
    policy = ON;
    assert.equal((await fetcher.get(`http://127.0.0.1:${stub.port}/jwks`)).status, 200);
    policy = OFF;
    await assert.rejects(fetcher.get(`http://127.0.0.1:${stub.port}/jwks`), OutboundRefused);
  });

  it('does not follow redirects, caps the size, and bounds the time', async () => {
    const fetcher = createOutboundFetcher({ policy: () => ON, timeoutMs: 300 });
    const before = stub.seen.length;
    assert.equal((await fetcher.get(`http://127.0.0.1:${stub.port}/redirect`)).status, 302);
    assert.equal(stub.seen.length, before + 1, 'the Location was not requested');
    await assert.rejects(fetcher.get(`http://127.0.0.1:${stub.port}/big`), (e: unknown) => e instanceof OutboundFailed && /returned more than 1048576 bytes/.test(e.message));
    const started = performance.now();
    await assert.rejects(fetcher.get(`http://127.0.0.1:${stub.port}/hang`), (e: unknown) => e instanceof OutboundFailed && /timed out after 300 ms/.test(e.message));
    assert.ok(performance.now() - started < 1_500);
    await assert.rejects(
      createOutboundFetcher({ policy: () => OFF, resolve: names({}) }).get('https://unknown.example.test/'),
      (e: unknown) => e instanceof OutboundFailed && /could not be resolved \(ENOTFOUND\)/.test(e.message),
    );
  });
});

