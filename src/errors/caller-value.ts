/**
 * A value the caller sent (a grant_type, a media type, a parameter name), made fit to be a fact of
 * a refusal (src/errors/facts.ts): printable ASCII only, each other character as `?`, at most
 * `max` characters with `…` when cut. Facts are the administrator's, but a caller chooses these
 * bytes: they must not carry control characters into a terminal, nor bloat the record. Never pass
 * a secret, a password or a token here: those are never facts at all.
 */
export function callerValue(text: string, max = 100): string {
  const cut = text.length > max ? text.slice(0, max) : text;
  const printable = cut.replace(/[^\x20-\x7e]/g, '?');
  return text.length > max ? `${printable}…` : printable;
}
