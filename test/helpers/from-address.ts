import { request } from 'node:http';

/**
 * fetch() from a chosen loopback source address. The server sees the request come from
 * `localAddress` (any of 127.0.0.0/8 on Linux), which is how tests play several callers at once
 * (the password lockout counts per source address). Answers a real `Response`, so helpers built on
 * fetch take it as it is.
 */
export function fetchFrom(localAddress: string): (url: string | URL, init?: { method?: string; headers?: Record<string, string>; body?: string | Uint8Array; redirect?: string }) => Promise<Response> {
  return (url, init = {}) =>
    new Promise<Response>((resolve, reject) => {
      const target = new URL(url);
      const body = init.body === undefined ? undefined : Buffer.from(init.body);
      const headers: Record<string, string> = { ...(init.headers ?? {}) };
      if (body !== undefined) headers['content-length'] = String(body.length);
      const req = request(
        { host: target.hostname, port: target.port, path: `${target.pathname}${target.search}`, method: init.method ?? 'GET', headers, localAddress, agent: false },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('error', reject);
          res.on('end', () => {
            const h = new Headers();
            for (const [name, value] of Object.entries(res.headers)) {
              if (Array.isArray(value)) for (const v of value) h.append(name, v);
              else if (value !== undefined) h.append(name, value);
            }
            const status = res.statusCode ?? 0;
            const text = [204, 304].includes(status) ? null : Buffer.concat(chunks);
            resolve(new Response(text, { status, headers: h }));
          });
        },
      );
      req.on('error', reject);
      req.end(body);
    });
}
