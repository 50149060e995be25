import assert from 'node:assert/strict';
import { fetchFrom } from './from-address.js';

/**
 * A minimal browser for the server-rendered pages: a cookie jar (name → value, for our one
 * origin), no redirects followed, and just enough HTML parsing to find forms and hidden fields.
 * Tests drive sign-in and consent with it the way a user's browser would.
 */

export interface Page {
  readonly status: number;
  readonly headers: Headers;
  readonly text: string;
  readonly requestId: string;
  /** The Location header, when the answer was a redirect. */
  readonly location: string | undefined;
  /** The raw Set-Cookie headers of this response. */
  readonly setCookies: readonly string[];
}

export interface Form {
  readonly action: string;
  /** Hidden fields and, for buttons, name=value pairs (buttons listed separately). */
  readonly fields: Record<string, string>;
  readonly buttons: readonly { readonly name: string; readonly value: string; readonly label: string }[];
  readonly html: string;
}

export function decodeEntities(text: string): string {
  return text
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&');
}

function attr(tag: string, name: string): string | undefined {
  const m = new RegExp(`\\s${name}="([^"]*)"`).exec(tag);
  return m === null ? undefined : decodeEntities(m[1] ?? '');
}

/** The forms of a page, in order. */
export function formsOf(html: string): Form[] {
  const forms: Form[] = [];
  for (const m of html.matchAll(/<form\b([^>]*)>([\s\S]*?)<\/form>/g)) {
    const open = m[1] ?? '';
    const inner = m[2] ?? '';
    const fields: Record<string, string> = {};
    for (const input of inner.matchAll(/<input\b[^>]*>/g)) {
      const tag = input[0];
      if (attr(tag, 'type') !== 'hidden') continue;
      const name = attr(tag, 'name');
      if (name !== undefined) fields[name] = attr(tag, 'value') ?? '';
    }
    const buttons = [...inner.matchAll(/<button\b([^>]*)>([\s\S]*?)<\/button>/g)].map((b) => ({
      name: attr(b[1] ?? '', 'name') ?? '',
      value: attr(b[1] ?? '', 'value') ?? '',
      label: decodeEntities((b[2] ?? '').replace(/<[^>]*>/g, '').trim()),
    }));
    forms.push({ action: attr(open, 'action') ?? '', fields, buttons, html: m[0] });
  }
  return forms;
}

/** The one form whose hidden lk_action is `action`. */
export function formFor(page: Page | string, action: string): Form {
  const html = typeof page === 'string' ? page : page.text;
  const found = formsOf(html).filter((f) => f.fields.lk_action === action);
  assert.equal(found.length, 1, `expected one ${action} form, found ${found.length} in:\n${html.slice(0, 3000)}`);
  return found[0]!;
}

export function hasForm(page: Page, action: string): boolean {
  return formsOf(page.text).some((f) => f.fields.lk_action === action);
}

export class Browser {
  readonly cookies = new Map<string, string>();

  /** `from`: the loopback source address to send from (helpers/from-address.ts). */
  constructor(
    readonly origin: string,
    readonly from?: string,
  ) {}

  private cookieHeader(): string | undefined {
    if (this.cookies.size === 0) return undefined;
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  }

  private absorb(res: Response): string[] {
    const setCookies = res.headers.getSetCookie();
    for (const line of setCookies) {
      const [pair = '', ...attrs] = line.split(';').map((s) => s.trim());
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq);
      const value = pair.slice(eq + 1);
      const maxAge = attrs.find((a) => /^max-age=/i.test(a));
      if (maxAge !== undefined && Number(maxAge.split('=')[1]) <= 0) this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
    return setCookies;
  }

  async request(url: string, init: { method?: string; form?: Record<string, string> | URLSearchParams; headers?: Record<string, string> } = {}): Promise<Page> {
    const target = new URL(url, this.origin);
    const headers: Record<string, string> = { ...(init.headers ?? {}) };
    const cookie = this.cookieHeader();
    if (cookie !== undefined && headers.cookie === undefined) headers.cookie = cookie;
    let body: string | undefined;
    if (init.form !== undefined) {
      body = (init.form instanceof URLSearchParams ? init.form : new URLSearchParams(init.form)).toString();
      headers['content-type'] ??= 'application/x-www-form-urlencoded';
    }
    const send = this.from === undefined ? fetch : fetchFrom(this.from);
    const res = await send(target, { method: init.method ?? (body === undefined ? 'GET' : 'POST'), headers, redirect: 'manual', ...(body === undefined ? {} : { body }) });
    const text = await res.text();
    const setCookies = this.absorb(res);
    return { status: res.status, headers: res.headers, text, requestId: res.headers.get('x-request-id') ?? '', location: res.headers.get('location') ?? undefined, setCookies };
  }

  get(url: string, headers?: Record<string, string>): Promise<Page> {
    return this.request(url, headers === undefined ? {} : { headers });
  }

  /** Submits a form of `page` (resolving its action against the page's URL), with extra fields. */
  submit(pageUrl: string, form: Form, extra: Record<string, string> = {}): Promise<Page> {
    const action = new URL(form.action, new URL(pageUrl, this.origin)).toString();
    return this.request(action, { form: { ...form.fields, ...extra } });
  }
}

export interface Credentials {
  readonly username: string;
  readonly password: string;
}

/**
 * Follows an authorization URL through sign-in (when the page asks for it) and consent, and returns
 * the redirect the server answers the decision with.
 */
export async function authorizeInBrowser(browser: Browser, url: string, credentials: Credentials | undefined, decision: 'allow' | 'deny' = 'allow'): Promise<Page> {
  let page = await browser.get(url);
  assert.equal(page.status, 200, `authorization page: ${page.status} ${page.location ?? ''} ${page.text.slice(0, 500)}`);
  if (hasForm(page, 'sign_in')) {
    assert.ok(credentials !== undefined, 'the server asked to sign in');
    page = await browser.submit(url, formFor(page, 'sign_in'), { username: credentials.username, password: credentials.password });
    assert.equal(page.status, 200, `after sign-in: ${page.status} ${page.text.slice(0, 1500)}`);
  }
  const consent = formFor(page, 'consent');
  const answer = await browser.submit(url, consent, { decision });
  assert.equal(answer.status, 303, `after consent: ${answer.status} ${answer.text.slice(0, 1500)}`);
  return answer;
}

/** The query parameters of a redirect's Location. */
export function redirectParams(page: Page): URLSearchParams {
  assert.ok(page.location !== undefined, `expected a redirect, got ${page.status}`);
  return new URL(page.location).searchParams;
}
