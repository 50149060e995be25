/** Names of the built-in objects bootstrap.ts puts in place, for the modules below it (guards.ts). */

/** The built-in public application the admin console signs in with (authorization code + PKCE). */
export const CONSOLE_CLIENT_ID = 'latchkey-console';
export const CONSOLE_APPLICATION_NAME = 'Latchkey Console';
/** The user the first start creates. */
export const ADMIN_USER = 'admin';
