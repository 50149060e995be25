import type { Clock } from '../core/clock.js';
import { recordChange } from '../audit/log.js';
import type { Storage } from '../storage/types.js';
import { RegistryError } from './errors.js';
import { parsePropertyValue, PROPERTY_DEFINITIONS, PROPERTY_NAMES, resolveProperties, type PropertyName } from './properties.js';

export interface PropertyView {
  readonly name: PropertyName;
  readonly value: boolean | number | string;
  readonly default: boolean | number | string;
  readonly isDefault: boolean;
  readonly type: string;
  readonly description: string;
}

/** Validates and stores a property; returns the typed value. */
export async function setProperty(
  deps: { storage: Pick<Storage, 'properties'> & Partial<Pick<Storage, 'audit'>>; clock: Clock; actor?: string | undefined },
  name: string,
  raw: string,
): Promise<boolean | number | string> {
  const value = parsePropertyValue(name, raw);
  await checkRelations(deps.storage, name, value);
  const previous = deps.storage.audit === undefined ? undefined : (await deps.storage.properties.list()).find((p) => p.name === name);
  await deps.storage.properties.set(name, String(value), deps.clock.now());
  await recordChange(deps, {
    action: 'property.set',
    target: name,
    before: previous === undefined ? null : { value: previous.value },
    after: { value: String(value) },
  });
  return value;
}

const PAIR_THRESHOLD = 'latchkey.password.lockout.threshold';
const USER_THRESHOLD = 'latchkey.password.lockout.user_threshold';

/**
 * Properties whose values must agree: the per-user lockout limit is never below the per-source
 * one (registry/lockout.ts), else one source alone would trip the per-user limit.
 */
async function checkRelations(storage: Pick<Storage, 'properties'>, name: string, value: boolean | number | string): Promise<void> {
  if (name !== PAIR_THRESHOLD && name !== USER_THRESHOLD) return;
  const current = resolveProperties(await storage.properties.list());
  const pair = name === PAIR_THRESHOLD ? (value as number) : current[PAIR_THRESHOLD];
  const user = name === USER_THRESHOLD ? (value as number) : current[USER_THRESHOLD];
  if (user < pair) {
    throw new RegistryError(
      'property_invalid',
      `${USER_THRESHOLD} (${user}) must not be below ${PAIR_THRESHOLD} (${pair}): raise ${USER_THRESHOLD} first, or choose a lower ${PAIR_THRESHOLD}.`,
    );
  }
}

export async function listProperties(deps: { storage: Pick<Storage, 'properties'> }): Promise<PropertyView[]> {
  const values = resolveProperties(await deps.storage.properties.list());
  return PROPERTY_NAMES.map((name) => {
    const def = PROPERTY_DEFINITIONS[name];
    return { name, value: values[name], default: def.default, isDefault: values[name] === def.default, type: def.type, description: def.description };
  });
}
