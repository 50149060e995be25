import { z } from 'zod';
import { RegistryError, type RegistryErrorCode } from '../../registry/errors.js';
import { StorageError } from '../../storage/types.js';
import { AdminError, badRequest } from '../http.js';

/** The admin API's HTTP status for each registry refusal: a new code must be given one here. */
export const REGISTRY_ERROR_STATUS: Readonly<Record<RegistryErrorCode, number>> = {
  invalid_input: 400,
  user_exists: 409,
  user_not_found: 404,
  scope_exists: 409,
  scope_not_found: 404,
  role_exists: 409,
  role_not_found: 404,
  application_not_found: 404,
  application_ambiguous: 409,
  built_in: 409,
  last_administrator: 409,
  in_use: 409,
  token_not_found: 404,
  token_ambiguous: 409,
  property_unknown: 400,
  property_invalid: 400,
  identity_provider_not_found: 404,
  rule_not_found: 404,
  api_not_found: 404,
  identity_provider_exists: 409,
  identity_provider_unreachable: 400,
  outbound_refused: 400,
  resource_not_found: 404,
  resource_exists: 409,
  registration_policy_not_found: 404,
  initial_access_token_not_found: 404,
  exchange_policy_not_found: 404,
  device_authorization_not_found: 404,
};

/** Maps registry and storage errors to the API's error shape; anything else is rethrown. */
export function mapError(error: unknown): AdminError {
  if (error instanceof AdminError) return error;
  if (error instanceof z.ZodError) {
    const issue = error.issues[0];
    const field = issue?.path.map(String).join('.') || undefined;
    return badRequest(issue === undefined ? 'The request body is not valid.' : `${field === undefined ? 'body' : field}: ${issue.message}`, field);
  }
  if (error instanceof RegistryError) {
    return new AdminError(REGISTRY_ERROR_STATUS[error.code], error.code, error.message, error.field, {}, error.dependants === undefined ? undefined : { dependants: error.dependants });
  }
  if (error instanceof StorageError && error.code === 'conflict') return new AdminError(409, 'conflict', error.message);
  if (error instanceof StorageError && error.code === 'not_found') return new AdminError(404, 'not_found', error.message);
  if (error instanceof StorageError && error.code === 'unavailable') {
    return new AdminError(503, 'temporarily_unavailable', 'The database cannot be reached or written right now (see GET /readyz). Retry shortly.', undefined, { 'retry-after': '5' });
  }
  throw error;
}
