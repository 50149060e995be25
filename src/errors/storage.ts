import { CodedError } from './base.js';

export type StorageErrorCode = 'not_found' | 'conflict' | 'unavailable';

/** A storage operation failed: `code` says whether the row is missing, taken, or the database unreachable. */
export class StorageError extends CodedError<StorageErrorCode> {
  constructor(code: StorageErrorCode, message: string, options?: { cause?: unknown }) {
    super('StorageError', code, message, options);
  }
}
