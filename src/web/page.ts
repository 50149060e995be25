import { randomBytes } from 'node:crypto';
import type { NeutralResponse } from '../core/request.js';
import { html, raw, type SafeHtml } from './html.js';

/**
 * Server-rendered pages: the security headers every page carries and the common layout. No
 * script runs on any page but the form_post response's auto-submit (its own nonce); styles are inline under a per-response nonce (no 'unsafe-inline').
 */

/** A fresh CSP nonce (128 bits). */
export function newNonce(): string {
  return randomBytes(16).toString('base64');
}

/** RFC 3986 scheme, as CSP scheme-source allows it. */
const SCHEME = /^[A-Za-z][A-Za-z0-9+.-]*$/;

/**
 * The CSP source that lets a form on our page end up at `uri`: browsers (Chrome at least) apply
 * form-action to the redirects that follow a form submission, so the consent form, whose answer
 * is a redirect to the client, must name the client's origin. undefined when none can be written.
 */
export function formActionSource(uri: string): string | undefined {
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    return undefined;
  }
  if (url.protocol === 'http:' || url.protocol === 'https:') {
    // Only a plain host name or IPv4 address fits CSP's host-source grammar; for an IPv6 literal
    // the scheme is the narrowest source there is. Our forms themselves only ever post to 'self'.
    return /^[A-Za-z0-9.-]+$/.test(url.hostname) ? url.origin : url.protocol;
  }
  const scheme = url.protocol.slice(0, -1);
  return SCHEME.test(scheme) ? `${scheme}:` : undefined;
}

export interface PageHeaderOptions {
  readonly nonce: string;
  /** Extra form-action sources (see formActionSource). */
  readonly formTargets?: readonly string[];
  /** Lets the page's one script run under the nonce (the form_post response's auto-submit); no other page has one. */
  readonly script?: boolean;
}

/** Headers for every HTML page: no caching, no framing, no referrer, nothing but our own styles. */
export function pageHeaders(options: PageHeaderOptions): Record<string, string> {
  const formAction = ["'self'", ...(options.formTargets ?? [])].join(' ');
  return {
    'content-type': 'text/html; charset=utf-8',
    'content-security-policy': [
      "default-src 'none'",
      `style-src 'nonce-${options.nonce}'`,
      ...(options.script === true ? [`script-src 'nonce-${options.nonce}'`] : []),
      'img-src https: http://localhost:* http://127.0.0.1:*',
      `form-action ${formAction}`,
      "frame-ancestors 'none'",
      "base-uri 'none'",
    ].join('; '),
    'x-frame-options': 'DENY',
    'x-content-type-options': 'nosniff',
    'cache-control': 'no-store',
    pragma: 'no-cache',
    'referrer-policy': 'no-referrer',
  };
}

/** Headers for a redirect we answer with (to a client's redirect URI, or back to a page). */
export function redirectHeaders(location: string): Record<string, string> {
  return { location, 'cache-control': 'no-store', pragma: 'no-cache', 'referrer-policy': 'no-referrer', 'content-type': 'text/plain; charset=utf-8' };
}

const CSS = `
:root{color-scheme:light dark;--fg:#1b1f24;--muted:#57606a;--bg:#f6f8fa;--card:#fff;--line:#d0d7de;--accent:#0b5cad;--accent-fg:#fff;--danger:#b3261e;--focus:#1f6feb}
@media (prefers-color-scheme:dark){:root{--fg:#e6edf3;--muted:#9da7b3;--bg:#0d1117;--card:#161b22;--line:#30363d;--accent:#4493f8;--accent-fg:#0d1117;--danger:#ff7b72;--focus:#79c0ff}}
*{box-sizing:border-box}
html{font-family:system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;font-size:16px;line-height:1.5;color:var(--fg);background:var(--bg)}
body{margin:0;min-height:100vh;display:flex;align-items:flex-start;justify-content:center;padding:6vh 1rem 2rem}
main{width:100%;max-width:26rem;background:var(--card);border:1px solid var(--line);border-radius:12px;padding:2rem 1.75rem;box-shadow:0 1px 3px rgba(0,0,0,.06)}
h1{font-size:1.35rem;line-height:1.3;margin:0 0 .5rem}
p{margin:.5rem 0}
.muted{color:var(--muted);font-size:.9rem}
.app{display:flex;align-items:center;gap:.75rem;margin-bottom:1.25rem}
.app img{width:48px;height:48px;object-fit:contain;border-radius:8px;border:1px solid var(--line);background:#fff}
.app .name{font-weight:600}
form{margin:1rem 0 0}
label{display:block;font-weight:600;font-size:.95rem;margin:1rem 0 .3rem}
input[type=text],input[type=password]{width:100%;font:inherit;padding:.55rem .7rem;border:1px solid var(--line);border-radius:8px;background:var(--card);color:var(--fg)}
button{font:inherit;font-weight:600;padding:.6rem 1.1rem;border-radius:8px;border:1px solid var(--line);background:var(--card);color:var(--fg);cursor:pointer}
button.primary{background:var(--accent);border-color:var(--accent);color:var(--accent-fg)}
button.link{border:none;background:none;padding:0;color:var(--accent);font-weight:400;text-decoration:underline}
input:focus-visible,button:focus-visible{outline:3px solid var(--focus);outline-offset:2px}
.actions{display:flex;gap:.75rem;margin-top:1.5rem}
.actions button{flex:1}
.full{width:100%;margin-top:1.5rem}
.alert{border:1px solid var(--danger);color:var(--danger);border-radius:8px;padding:.6rem .8rem;margin:1rem 0}
ul.scopes{list-style:none;padding:0;margin:.75rem 0;border:1px solid var(--line);border-radius:8px}
ul.scopes li{padding:.6rem .8rem;border-top:1px solid var(--line)}
ul.scopes li:first-child{border-top:none}
.scope{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:.9rem}
code{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:.9rem;word-break:break-all}
.sr-only{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap}
`.trim();

export interface LayoutOptions {
  readonly title: string;
  readonly nonce: string;
  readonly content: SafeHtml;
  /** The document's language (BCP 47); the pages are written in English. */
  readonly lang?: string;
}

/** The whole document around a page's content. */
export function layout(options: LayoutOptions): string {
  return html`<!DOCTYPE html>
<html lang="${options.lang ?? 'en'}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex, nofollow">
<title>${options.title} · Latchkey</title>
<style nonce="${options.nonce}">${raw(CSS)}</style>
</head>
<body>
<main>
${options.content}
</main>
</body>
</html>
`.value;
}

/** A complete HTML response. */
export function htmlResponse(status: number, options: LayoutOptions & { readonly formTargets?: readonly string[]; readonly headers?: Record<string, string>; readonly script?: boolean }): NeutralResponse {
  return {
    status,
    headers: {
      ...pageHeaders({ nonce: options.nonce, ...(options.formTargets === undefined ? {} : { formTargets: options.formTargets }), ...(options.script === true ? { script: true } : {}) }),
      ...(options.headers ?? {}),
    },
    body: layout(options),
  };
}
