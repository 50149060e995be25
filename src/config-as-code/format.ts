import YAML from 'yaml';
import type { z } from 'zod';
import { DocumentError, type DocumentIssue } from '../errors/document.js';
import { API_VERSION, KIND, registryDocumentSchema, type RegistryDocument } from './document.js';

/** Reading and writing a registry document as YAML or JSON. */

export type DocumentFormat = 'yaml' | 'json';
export const DOCUMENT_FORMATS: readonly DocumentFormat[] = ['yaml', 'json'];

/** A document larger than this is not a registry anyone keeps in one file (and is refused before it is parsed). */
export const MAX_DOCUMENT_BYTES = 8 * 1024 * 1024;

const YAML_HEADER = `# Latchkey registry (${API_VERSION}): apply it with \`latchkey apply -f <file>\`; see docs/configuration-as-code.md.\n`;

/**
 * The document as text, byte-identical for the same registry: keys in the schema's order, lists
 * already sorted by the exporter, no line folding (a long redirect URI stays on one line), no
 * anchors or aliases.
 */
export function formatDocument(doc: RegistryDocument, format: DocumentFormat): string {
  if (format === 'json') return `${JSON.stringify(doc, null, 2)}\n`;
  return YAML_HEADER + YAML.stringify(doc, { lineWidth: 0, aliasDuplicateObjects: false, indentSeq: true });
}

/** `applications[2].grantTypes`, `properties["latchkey.keys.rotation_days"]`. */
export function pathText(path: readonly PropertyKey[]): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else if (typeof part === 'string' && /^[A-Za-z_$][\w$]*$/.test(part)) out += out === '' ? part : `.${part}`;
    else out += `[${JSON.stringify(String(part))}]`;
  }
  return out;
}

function zodIssues(error: z.ZodError): DocumentIssue[] {
  return error.issues.flatMap((issue): DocumentIssue[] => {
    if (issue.code === 'unrecognized_keys') {
      return issue.keys.map((key) => ({ path: pathText([...issue.path, key]), message: 'unknown field (see docs/configuration-as-code.md for the fields of each kind)' }));
    }
    return [{ path: pathText(issue.path), message: issue.message }];
  });
}

/**
 * How deeply a document may nest. A registry nests a few levels (an application's JWKS is the
 * deepest, about seven); the YAML composer recurses per level, and a document nested thousands
 * deep would exhaust the stack (repeatedly, enough to bring the process down). So the nesting is
 * measured first with the YAML lexer, which is iterative: flow collections open at once, block
 * indentation (every level indents by at least one space) and the block indicators of one line
 * outside flow collections (`- - - x`). Their sum bounds the depth.
 */
export const NESTING_LIMITS = { flow: 32, indentation: 128, indicatorsPerLine: 16 } as const;

function checkNesting(text: string, source: string): void {
  let flow = 0;
  let indicators = 0;
  let lineStart = true;
  let line = 1;
  const refuse = (what: string): never => {
    throw new DocumentError('invalid_document', [{ path: '', message: `${source} nests too deeply at line ${line} (${what}); a registry document needs a few levels` }]);
  };
  for (const token of new YAML.Lexer().lex(text)) {
    const type = YAML.CST.tokenType(token);
    if (type === 'newline') {
      [lineStart, indicators, line] = [true, 0, line + 1];
      continue;
    }
    if (type === 'flow-map-start' || type === 'flow-seq-start') {
      if (++flow > NESTING_LIMITS.flow) refuse(`more than ${NESTING_LIMITS.flow} open [ or {`);
    } else if (type === 'flow-map-end' || type === 'flow-seq-end') flow -= 1;
    else if (type === 'space' && lineStart && token.length > NESTING_LIMITS.indentation) refuse(`indented more than ${NESTING_LIMITS.indentation} spaces`);
    // Inside a flow collection ':' separates a key from its value at the same level (one line of JSON holds many).
    else if (flow === 0 && (type === 'seq-item-ind' || type === 'explicit-key-ind' || type === 'map-value-ind') && ++indicators > NESTING_LIMITS.indicatorsPerLine) {
      refuse(`more than ${NESTING_LIMITS.indicatorsPerLine} nested entries on one line`);
    }
    lineStart = false;
  }
}

/**
 * Parses a document (YAML 1.2, which reads JSON too) and checks it against the format. Throws a
 * DocumentError naming every problem: a syntax error with its line and column, a schema problem with
 * its path. `source` names the input in messages (a file name, or "the request body").
 */
export function parseDocument(text: string, source: string): RegistryDocument {
  if (Buffer.byteLength(text, 'utf8') > MAX_DOCUMENT_BYTES) {
    throw new DocumentError('invalid_document', [{ path: '', message: `${source} is larger than ${MAX_DOCUMENT_BYTES / 1024 / 1024} MiB` }]);
  }
  checkNesting(text, source);
  const parsed = YAML.parseDocument(text, { uniqueKeys: true, prettyErrors: true });
  if (parsed.errors.length > 0) {
    throw new DocumentError(
      'invalid_document',
      parsed.errors.map((e) => ({ path: '', message: `${source} is not valid YAML or JSON: ${(e.message.split('\n')[0] ?? '').replace(/:$/, '')}` })),
    );
  }
  let value: unknown;
  try {
    value = parsed.toJS({ maxAliasCount: 100 });
  } catch (error) {
    throw new DocumentError('invalid_document', [{ path: '', message: `${source} cannot be read: ${(error as Error).message}` }]);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new DocumentError('invalid_document', [{ path: '', message: `${source} must hold a mapping with apiVersion: ${API_VERSION} and kind: ${KIND} (export one with \`latchkey export\`)` }]);
  }
  const head = value as Record<string, unknown>;
  if (head.apiVersion !== API_VERSION || head.kind !== KIND) {
    const issues: DocumentIssue[] = [];
    if (head.apiVersion !== API_VERSION) issues.push({ path: 'apiVersion', message: `must be ${API_VERSION} (got ${JSON.stringify(head.apiVersion ?? null)}); this Latchkey reads ${API_VERSION} documents` });
    if (head.kind !== KIND) issues.push({ path: 'kind', message: `must be ${KIND} (got ${JSON.stringify(head.kind ?? null)})` });
    throw new DocumentError('invalid_document', issues);
  }
  const result = registryDocumentSchema.safeParse(value);
  if (!result.success) throw new DocumentError('invalid_document', zodIssues(result.error));
  return result.data;
}
