/** The registry's refusals live with the other errors (src/errors/registry.ts); re-exported for the registry modules. */
export { RegistryError, type Dependants, type RegistryErrorCode } from '../errors/registry.js';
