import type { Facts } from '../domain/model.js';
import { ALLOW_PRIVATE_PROPERTY } from './address.js';
import { refusalIn } from './fetch.js';

/** A registered URL as a fact: scheme, host and path; a query (which might carry a key) and credentials are left out. */
function shownUrl(text: string): string {
  try {
    const url = new URL(text);
    return `${url.protocol}//${url.host}${url.pathname}${url.search === '' ? '' : '?…'}`.slice(0, 300);
  } catch {
    return text.split('?')[0]?.slice(0, 300) ?? '';
  }
}

/**
 * The facts of an outbound.refused refusal (src/errors/facts.ts) from the OutboundRefused in the
 * error's chain of causes: the URL not fetched, the rule that refused it, and the property that
 * relaxes the rules with its value when it refused. Empty when the chain holds no such refusal.
 */
export function outboundFacts(error: unknown): Facts {
  const refused = refusalIn(error);
  if (refused === undefined) return {};
  return {
    outboundUrl: shownUrl(refused.url),
    outboundRefusal: refused.why.slice(0, 300),
    property: ALLOW_PRIVATE_PROPERTY,
    ...(refused.allowPrivateNetworks === undefined ? {} : { propertyValue: String(refused.allowPrivateNetworks) }),
  };
}
