import { writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { DEVICE_CODE_GRANT } from '../../grants/grant-type.js';
import type { CommonOptions, Kit, Output } from './index.js';
import type { IO } from '../context.js';

/**
 * `latchkey login --device`: the device authorization grant (RFC 8628) end to end against a
 * running instance, as a command-line tool would run it: ask for codes, show the user where to
 * enter the code, poll the token endpoint honouring interval and slow_down (§3.5), and print (or
 * save) the token response. Talks HTTP only: no database.
 */

interface LoginOptions extends CommonOptions {
  readonly device?: boolean;
  readonly issuer?: string;
  readonly url?: string;
  readonly clientId?: string;
  readonly scope?: string;
  readonly resource?: string[];
  readonly save?: string;
  readonly quiet?: boolean;
}

interface DeviceAuthorization {
  readonly device_code: string;
  readonly user_code: string;
  readonly verification_uri: string;
  readonly verification_uri_complete?: string;
  readonly expires_in: number;
  readonly interval?: number;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The endpoints from RFC 8414 metadata, else the standard paths under the issuer. */
async function endpoints(issuer: string): Promise<{ device: string; token: string }> {
  const fallback = { device: `${issuer}/oauth/device_authorization`, token: `${issuer}/oauth/token` };
  try {
    const res = await fetch(`${issuer}/.well-known/oauth-authorization-server`, { signal: AbortSignal.timeout(10_000) });
    if (!res.ok) return fallback;
    const meta = (await res.json()) as { device_authorization_endpoint?: unknown; token_endpoint?: unknown };
    return {
      device: typeof meta.device_authorization_endpoint === 'string' ? meta.device_authorization_endpoint : fallback.device,
      token: typeof meta.token_endpoint === 'string' ? meta.token_endpoint : fallback.token,
    };
  } catch {
    return fallback;
  }
}

async function postForm(url: string, form: URLSearchParams): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' }, body: form.toString(), signal: AbortSignal.timeout(30_000) });
  const text = await res.text();
  try {
    return { status: res.status, body: JSON.parse(text) as Record<string, unknown> };
  } catch {
    return { status: res.status, body: { error: 'invalid_response', error_description: text.slice(0, 200) } };
  }
}

const describe = (body: Record<string, unknown>) => `${String(body.error)}${typeof body.error_description === 'string' ? `: ${body.error_description}` : ''}`;

/** Polls until tokens, a refusal, or the code's expiry; the progress line is redrawn on standard error. */
async function pollForTokens(io: IO, tokenEndpoint: string, clientId: string, d: DeviceAuthorization, quiet: boolean): Promise<{ ok: true; body: Record<string, unknown> } | { ok: false; message: string }> {
  let interval = Math.max(1, d.interval ?? 5);
  const started = Date.now();
  const deadline = started + d.expires_in * 1000;
  const progress = (text: string) => {
    if (!quiet) io.err(`\r${text}`.padEnd(72));
  };
  for (;;) {
    await sleep(interval * 1000);
    if (Date.now() > deadline + interval * 1000) return { ok: false, message: 'The code expired before it was approved. Run the command again.' };
    const { status, body } = await postForm(tokenEndpoint, new URLSearchParams({ grant_type: DEVICE_CODE_GRANT, device_code: d.device_code, client_id: clientId }));
    if (status === 200) {
      progress('Approved.');
      if (!quiet) io.err('\n');
      return { ok: true, body };
    }
    const waited = Math.round((Date.now() - started) / 1000);
    if (body.error === 'authorization_pending') {
      progress(`Waiting for approval... ${waited} s (polling every ${interval} s)`);
      continue;
    }
    if (body.error === 'slow_down') {
      // RFC 8628 §3.5: increase the interval by 5 seconds for this and all subsequent requests.
      interval += 5;
      progress(`Waiting for approval... ${waited} s (asked to slow down: every ${interval} s)`);
      continue;
    }
    if (!quiet) io.err('\n');
    if (body.error === 'access_denied') return { ok: false, message: 'The request was denied.' };
    if (body.error === 'expired_token') return { ok: false, message: 'The code expired before it was approved. Run the command again.' };
    return { ok: false, message: `The token endpoint refused: ${describe(body)}` };
  }
}

async function runDeviceLogin(io: IO, out: Output, opts: LoginOptions): Promise<number> {
  const issuer = (opts.issuer ?? opts.url ?? '').replace(/\/+$/, '');
  if (issuer === '' || opts.clientId === undefined) {
    io.err('error: --issuer (or --url) and --client-id are required.\n');
    return 2;
  }
  const { device, token } = await endpoints(issuer);
  const form = new URLSearchParams({ client_id: opts.clientId });
  if (opts.scope !== undefined) form.set('scope', opts.scope);
  for (const r of opts.resource ?? []) form.append('resource', r);
  const started = await postForm(device, form);
  if (started.status !== 200) {
    io.err(`error: the device authorization request was refused: ${describe(started.body)}\n`);
    return 1;
  }
  const d = started.body as unknown as DeviceAuthorization;
  io.err(`To sign in, open ${d.verification_uri} and enter the code:\n\n    ${d.user_code}\n\n`);
  if (d.verification_uri_complete !== undefined) io.err(`Or open ${d.verification_uri_complete} (the code filled in).\n`);
  io.err(`The code expires in ${Math.round(d.expires_in / 60)} minute(s).\n`);
  const result = await pollForTokens(io, token, opts.clientId, d, opts.quiet === true);
  if (!result.ok) {
    io.err(`error: ${result.message}\n`);
    return 1;
  }
  const json = `${JSON.stringify(result.body, null, 2)}\n`;
  if (opts.save !== undefined) {
    // Tokens are credentials: the file is readable by its owner only.
    writeFileSync(opts.save, json, { mode: 0o600 });
    out.result({ saved: opts.save, scope: result.body.scope ?? null, expires_in: result.body.expires_in ?? null }, `Token response saved to ${opts.save} (mode 600).\n`);
    return 0;
  }
  io.out(json);
  return 0;
}

export function registerLogin(program: Command, kit: Kit): void {
  const cmd = program
    .command('login')
    .description('Get a token from a running instance with the device authorization grant (RFC 8628): shows a code to enter at /oauth/device, waits for approval, prints the token response')
    .option('--device', 'use the device authorization grant (the only method; the default)')
    .option('--issuer <url>', 'the instance URL (its issuer), e.g. https://auth.example.com')
    .option('--url <url>', 'the same as --issuer')
    .option('--client-id <id>', 'the client id of an application allowed the device grant (public: no secret)')
    .option('--scope <scopes>', 'the scopes to ask for, space-separated (default: the application\'s)')
    .option('--resource <uri...>', 'RFC 8707 resources the token is for (repeatable)')
    .option('--save <file>', 'write the token response to this file (mode 600) instead of standard output')
    .option('--quiet', 'no progress line while waiting')
    .option('--json', 'with --save: print what was saved as JSON')
    .addHelpText('after', `
The code and the progress line go to standard error; standard output carries only the token
response (JSON, as the token endpoint answered it), so it can be piped:

  latchkey login --device --issuer https://auth.example.com --client-id <client-id> --scope "openid read" > token.json
  latchkey login --device --url http://localhost:8080 --client-id <client-id> --save ~/.config/mytool/token.json

The application needs the device grant: latchkey apps create --name "My CLI" --grants device_code,refresh_token --public --scopes openid
Polling honours the interval of the response and slows down by 5 s on slow_down (RFC 8628 section 3.5).
Exit status: 0 with tokens; 1 when denied, expired or refused; 2 for missing options. See docs/device-flow.md.
`);
  cmd.action((opts: LoginOptions) => kit.plain(opts, (out) => runDeviceLogin(kit.io, out, opts)));
}
