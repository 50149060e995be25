/**
 * HTML with escaping by construction: everything interpolated into an `html` template is escaped
 * unless it is itself SafeHtml (the result of another `html` template, or of `raw` for constants).
 * Templates quote every attribute with double quotes, so escaping `& < > " '` is enough for both
 * text and attribute values. URLs are never interpolated into `href`/`src` without being checked
 * by the caller first (see isDisplayableImageUrl).
 */
export class SafeHtml {
  constructor(readonly value: string) {}
  toString(): string {
    return this.value;
  }
}

const ESCAPES: Readonly<Record<string, string>> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (ch) => ESCAPES[ch] ?? ch);
}

export type HtmlValue = SafeHtml | string | number | boolean | null | undefined | readonly HtmlValue[];

function render(value: HtmlValue): string {
  if (value instanceof SafeHtml) return value.value;
  if (value === null || value === undefined || value === false || value === true) return '';
  if (Array.isArray(value)) return value.map((v: HtmlValue) => render(v)).join('');
  return escapeHtml(String(value));
}

/** Tagged template: `html\`<p>${userText}</p>\`` escapes userText. */
export function html(strings: TemplateStringsArray, ...values: HtmlValue[]): SafeHtml {
  let out = strings[0] ?? '';
  for (let i = 0; i < values.length; i++) out += render(values[i] as HtmlValue) + (strings[i + 1] ?? '');
  return new SafeHtml(out);
}

/** Marks a constant string (never request data) as HTML. */
export function raw(constant: string): SafeHtml {
  return new SafeHtml(constant);
}

/**
 * Whether an image URL may be shown on our pages: https anywhere, or plain http only on the
 * loopback host (development). Anything else (javascript:, data:, http on the network) is not
 * rendered. The Content-Security-Policy img-src allows exactly these.
 */
export function isDisplayableImageUrl(uri: string | null | undefined): uri is string {
  if (uri === null || uri === undefined || uri.length > 2000) return false;
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    return false;
  }
  if (url.username !== '' || url.password !== '') return false;
  if (url.protocol === 'https:') return true;
  return url.protocol === 'http:' && (url.hostname === 'localhost' || url.hostname === '127.0.0.1');
}
