import type { RegistryCache } from './cache.js';
import { resolveProperties, type PropertyValues } from './properties.js';
import type { Storage } from '../storage/types.js';
import { createOutboundFetcher, type OutboundFetcher } from '../outbound/fetch.js';
import type { OutboundPolicy } from '../outbound/url.js';

/** Where the outbound rules' setting (src/outbound) comes from: the server's registry cache, or storage (CLI). */

export function policyOf(props: PropertyValues): OutboundPolicy {
  return { allowPrivateNetworks: props['latchkey.outbound.allow_private_networks'] };
}

/** The current policy as stored (CLI commands and registration, off the hot path). */
export async function storedPolicy(storage: Pick<Storage, 'properties'>): Promise<OutboundPolicy> {
  return policyOf(resolveProperties(await storage.properties.list()));
}

/** The server's fetcher: the property as the registry cache has it (a change applies within a poll). */
export function cachedFetcher(cache: Pick<RegistryCache, 'properties' | 'peekProperties'>, extraCa?: string | readonly string[]): OutboundFetcher {
  return createOutboundFetcher({ policy: async () => policyOf(cache.peekProperties() ?? (await cache.properties())), extraCa });
}

/** A fetcher for a CLI command: the property read from storage on each fetch. */
export function storedFetcher(storage: Pick<Storage, 'properties'>): OutboundFetcher {
  return createOutboundFetcher({ policy: () => storedPolicy(storage) });
}
