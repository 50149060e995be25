/**
 * The neutral request and response the protocol core works with. The HTTP host (src/http) builds
 * one from Fastify's request and writes the response back; tests build them directly.
 */
export type HeaderValue = string | string[] | undefined;

export interface NeutralRequest {
  readonly method: string;
  /** Path without the query string. */
  readonly path: string;
  readonly query: URLSearchParams;
  /** Lower-case header names, as Node delivers them. */
  readonly headers: Readonly<Record<string, HeaderValue>>;
  /** The raw body as text (undefined when there was none). */
  readonly body: string | undefined;
  readonly contentType: string | undefined;
  readonly remoteAddress: string;
  readonly requestId: string;
}

export interface NeutralResponse {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  /** Serialised already, so the host does no work beyond writing it. */
  readonly body: string;
}

export function header(req: Pick<NeutralRequest, 'headers'>, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/** The media type of a Content-Type header, lower-cased, without parameters. */
export function mediaType(contentType: string | undefined): string | undefined {
  if (contentType === undefined) return undefined;
  const semi = contentType.indexOf(';');
  return (semi === -1 ? contentType : contentType.slice(0, semi)).trim().toLowerCase();
}
