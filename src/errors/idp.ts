import { LatchkeyError } from './base.js';

/** An identity provider's document (metadata, JWKS) could not be fetched or is not what it should be; the message says which. */
export class ProviderFetchError extends LatchkeyError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ProviderFetchError', message, options);
  }
}
