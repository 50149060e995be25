import { CodedError } from './base.js';

/**
 * A registry document (`latchkey apply -f <file>`, `POST /admin/api/v1/apply`) that cannot be
 * applied. Every problem names where it is in the document (`applications[2].grantTypes`), and
 * nothing was changed when this is thrown before the first change (`code` says which):
 * - `invalid_document`: the text is not YAML/JSON, or does not follow the format (schema), or it
 *   contradicts itself (two entries for one object, a built-in object);
 * - `refused`: the registry refuses a change it describes (a rehearsal on a copy found it);
 * - `incomplete`: a change failed part-way through (the instance changed meanwhile): `issues`
 *   names it, and the changes before it were made.
 */
export type DocumentErrorCode = 'invalid_document' | 'refused' | 'incomplete';

export interface DocumentIssue {
  /** Where, in JavaScript notation from the document's root (`users[0].roles`); '' for the whole document. */
  readonly path: string;
  readonly message: string;
}

export class DocumentError extends CodedError<DocumentErrorCode> {
  constructor(
    code: DocumentErrorCode,
    readonly issues: readonly DocumentIssue[],
    heading = code === 'incomplete' ? 'The registry document was applied only in part' : 'The registry document cannot be applied; nothing was changed',
  ) {
    super('DocumentError', code, `${heading}:\n${issues.map(issueLine).join('\n')}`);
  }
}

export function issueLine(issue: DocumentIssue): string {
  return `  ${issue.path === '' ? '(document)' : issue.path}: ${issue.message}`;
}
