import { LatchkeyError } from './base.js';

/** The words every outbound refusal message carries (src/outbound/url.ts, OutboundRefused). */
export const REFUSED_PREFIX = 'refused by the outbound rules';

/** The URL or an address it resolves to is outside what the rules allow: an administrator must act. */
export class OutboundRefused extends LatchkeyError {
  constructor(
    readonly url: string,
    readonly why: string,
    /** The rules' latchkey.outbound.allow_private_networks when it refused (for the explanation), when known. */
    readonly allowPrivateNetworks?: boolean,
  ) {
    super('OutboundRefused', `GET ${url} was ${REFUSED_PREFIX}: ${why}`);
  }
}

/** The fetch was allowed but failed (DNS, connection, timeout, too large). */
export class OutboundFailed extends LatchkeyError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('OutboundFailed', message, options);
  }
}
