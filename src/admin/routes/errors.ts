import { z } from 'zod';
import { RegistryError } from '../../registry/errors.js';
import { StorageError } from '../../storage/types.js';
import { AdminError, badRequest } from '../http.js';

/** Maps registry and storage errors to the API's error shape; anything else is rethrown. */
export function mapError(error: unknown): AdminError {
  if (error instanceof AdminError) return error;
  if (error instanceof z.ZodError) {
    const issue = error.issues[0];
    const field = issue?.path.map(String).join('.') || undefined;
    return badRequest(issue === undefined ? 'The request body is not valid.' : `${field === undefined ? 'body' : field}: ${issue.message}`, field);
  }
  if (error instanceof RegistryError) {
    const status = error.code.endsWith('_not_found') ? 404 : error.code.endsWith('_exists') ? 409 : 400;
    return new AdminError(status, error.code, error.message, error.field);
  }
  if (error instanceof StorageError && error.code === 'conflict') return new AdminError(409, 'conflict', error.message);
  if (error instanceof StorageError && error.code === 'not_found') return new AdminError(404, 'not_found', error.message);
  if (error instanceof StorageError && error.code === 'unavailable') {
    return new AdminError(503, 'temporarily_unavailable', 'The database cannot be reached or written right now (see GET /readyz). Retry shortly.', undefined, { 'retry-after': '5' });
  }
  throw error;
}
