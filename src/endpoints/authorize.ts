/**
 * The authorization endpoint (RFC 6749 §3.1, §4.1), split across src/endpoints/authorize/; this
 * module keeps the import path that the server, the app and the tests use.
 */
export type { AuthorizeEndpoint, AuthorizeEndpointDeps, WebResponse } from './authorize/context.js';
export { CODE_LIFETIME_MS, CODE_PREFIX } from './authorize/code.js';
export { AUTHORIZE_PATHS, createAuthorizeEndpoint } from './authorize/endpoint.js';
export { PENDING_REQUEST_LIFETIME_MS } from './authorize/pending.js';
export { MAX_STATE_LENGTH } from './authorize/validate.js';
