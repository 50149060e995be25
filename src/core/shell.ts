/**
 * Shell quoting for every command Latchkey prints for a person to paste: the console's `curl`, the
 * CLI's next steps and "Fix:" lines, the `serve` banner, `latchkey doctor` findings. A value that
 * came from a registration (a redirect URI, a scope or provider name) may hold `$(…)`, backticks, `;`
 * or quotes; pasted unquoted, the shell would run them.
 *
 * Pure (no Node.js imports): the console's bundle may import it too.
 */

/**
 * Words that mean the same to every POSIX shell unquoted. A leading `=` is excluded (zsh expands
 * `=cmd`); `~` only inside a word and not after `:` or `=` (where shells expand it: `~user`,
 * `PATH=a:~`), as in a would-refuse record's id `<request id>~<rule id>`.
 */
const SAFE = /^[A-Za-z0-9_@%+:,./-](?:[A-Za-z0-9_@%+=:,./-]|(?<![:=])~)*$/;

/**
 * Characters a terminal does not show as themselves: C0 and C1 controls, DEL, Unicode format
 * characters (bidi overrides, zero-width), line and paragraph separators. Inside '…' they would
 * arrive intact but could hide or reorder what the person reads, so they are written as escapes.
 */
const INVISIBLE = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/u;

function hex(n: number, width: number): string {
  return n.toString(16).padStart(width, '0');
}

const utf8 = new TextEncoder();

/**
 * One character inside $'…' (ANSI-C quoting: bash, zsh, ksh; only backslash escapes are special
 * there). An invisible character is written as its UTF-8 bytes, \xHH each: \u escapes depend on
 * the shell's locale (bash in the C locale leaves them as they are). Two hex digits always, so a
 * hex digit that follows is never read as part of the escape.
 */
function ansiC(c: string): string {
  if (c === '\\') return '\\\\';
  if (c === "'") return "\\'";
  if (!INVISIBLE.test(c)) return c;
  return Array.from(utf8.encode(c), (byte) => `\\x${hex(byte, 2)}`).join('');
}

/**
 * Quotes one shell word when it needs it. Single quotes turn off every expansion (`$`, backticks,
 * `!` history, globbing); an embedded ' becomes '\''. A value with invisible characters is written
 * as $'…' with escapes instead. (A NUL cannot be passed in an argument at all.)
 */
export function shellWord(value: string): string {
  if (SAFE.test(value)) return value;
  if (!INVISIBLE.test(value)) return `'${value.replace(/'/g, `'\\''`)}'`;
  return `$'${Array.from(value, ansiC).join('')}'`;
}

/** A part of a printed command that the operator fills in, shown as `<name>` (never quoted). */
export interface Placeholder {
  readonly placeholder: string;
}

export const placeholder = (name: string): Placeholder => ({ placeholder: name });

export type Word = string | Placeholder;

const render = (word: Word): string => (typeof word === 'string' ? shellWord(word) : `<${word.placeholder}>`);

/** A command line from words, each quoted as needed: `shellCommand(['curl', '-u', id + ':' + secret, url])`. */
export function shellCommand(words: readonly Word[]): string {
  return words.map(render).join(' ');
}

/** A `latchkey` command line: `latchkey` and its arguments, each quoted as needed. */
export function commandLine(words: readonly Word[]): string {
  return shellCommand(['latchkey', ...words]);
}

/**
 * A value for a message: in double quotes, at most 200 characters, with controls and invisible
 * characters written as \uXXXX so a message (and the log line it may end in) shows what was sent.
 */
export function shown(value: string): string {
  const cut = value.length > 200 ? `${value.slice(0, 200)}…` : value;
  const escaped = Array.from(cut, (c) => (c === '"' || c === '\\' ? `\\${c}` : INVISIBLE.test(c) ? `\\u${hex(c.codePointAt(0) ?? 0, 4).toUpperCase()}` : c));
  return `"${escaped.join('')}"`;
}
