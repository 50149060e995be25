/**
 * Latchkey as a library: embed the instance in your own process, or write API modules.
 * The `latchkey` command (src/cli) is built on exactly these pieces.
 */
export { createLatchkey, type Latchkey, type LatchkeyOptions } from './app.js';
export { buildHttpServer, type HttpOptions } from './http/server.js';
export { openStorage } from './storage/open.js';
export type { Storage } from './storage/types.js';
export { loadApis } from './resource-server/load.js';
export { defineApi, ApiError } from './resource-server/define.js';
export type { ApiDefinition, ApiRequest, ApiResponse, Caller, ResourceDefinition, SecuritySettings } from './resource-server/define.js';
export { OAuthError } from './errors/oauth-error.js';
// Writing a grant: a GrantModule (descriptor + handler factory) appended to BUILT_IN_GRANTS in createLatchkey({ grants }).
export { BUILT_IN_GRANTS } from './grants/index.js';
export { issueTokens, type IssueOptions } from './grants/issue.js';
export { parseScopeParam, resolveRequestedScopes } from './grants/scope.js';
export { JWT_BEARER_GRANT, type GrantType } from './grants/grant-type.js';
export type {
  ClientAuthRule, Grant, GrantCheckInput, GrantContext, GrantDeps, GrantDescriptor, GrantExample, GrantHandler, GrantModule, GrantParameter, GrantWarning, RefusalContext,
} from './grants/types.js';
export type { TokenResponseBody } from './tokens/issuer.js';
export { invalidClient, invalidGrant, invalidRequest, invalidScope, unauthorizedClient, unsupportedGrantType } from './errors/errors.js';
export { REASONS, REASON_CODES, type ReasonCode } from './errors/reasons.js';
