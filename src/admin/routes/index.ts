import { APPLICATION_ROUTES } from './applications.js';
import { CONFIG_AS_CODE_ROUTES } from './config-as-code.js';
import { AUDIT_ROUTE, DIAGNOSTICS_ROUTES } from './diagnostics.js';
import { KEY_IDP_ROUTES } from './keys-idps.js';
import { LIFECYCLE_ROUTES } from './lifecycle.js';
import { POSTURE_ROUTES } from './posture.js';
import { REFUSAL_GROUP_ROUTES } from './refusal-groups.js';
import { REFUSAL_ACTIVITY_ROUTES } from './refusals-activity.js';
import { REGISTRATION_ROUTES } from './registration.js';
import { EXCHANGE_ROUTES } from './exchange.js';
import { RULE_ROUTES } from './rules.js';
import { RESOURCE_ROUTES } from './resources.js';
import { SCOPE_PROPERTY_ROUTES } from './scopes-properties.js';
import { SESSION_ROUTES } from './session.js';
import type { AdminRoute } from './types.js';
import { TOKEN_ROUTES } from './tokens.js';
import { USER_SESSION_ROUTES } from './user-sessions.js';
import { USER_ROUTES } from './users.js';
import { DEVICE_ROUTES } from './device.js';

/**
 * The admin API's routes: one table that the HTTP host registers (src/http/admin-plugin.ts), the
 * OpenAPI document describes (src/admin/openapi.ts) and the access tests walk, so a route cannot
 * be added without being authenticated, documented and tested. Each file of this folder holds the
 * routes of one area; the order here is the order of the OpenAPI document.
 */
export const ADMIN_ROUTES: readonly AdminRoute[] = [
  ...SESSION_ROUTES,
  ...DIAGNOSTICS_ROUTES,
  ...APPLICATION_ROUTES,
  ...POSTURE_ROUTES,
  ...USER_ROUTES,
  ...USER_SESSION_ROUTES,
  ...SCOPE_PROPERTY_ROUTES,
  ...LIFECYCLE_ROUTES,
  ...TOKEN_ROUTES,
  ...REFUSAL_GROUP_ROUTES,
  ...REFUSAL_ACTIVITY_ROUTES,
  ...RULE_ROUTES,
  ...RESOURCE_ROUTES,
  ...REGISTRATION_ROUTES,
  ...EXCHANGE_ROUTES,
  AUDIT_ROUTE,
  ...KEY_IDP_ROUTES,
  ...CONFIG_AS_CODE_ROUTES,
  ...DEVICE_ROUTES,
];

export { ADMIN_API_PREFIX, type AdminMethod, type AdminRoute, type QueryParam, type RouteContext, type TextBody } from './types.js';
export { mapError } from './errors.js';
export { curlFor } from './helpers.js';
