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
export { REASONS, REASON_CODES, type ReasonCode } from './errors/reasons.js';
