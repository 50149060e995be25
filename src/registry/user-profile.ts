import type { UserAddress, UserProfile } from '../domain/model.js';
import { RegistryError } from './errors.js';

/**
 * The OpenID Connect Core 1.0 §5.1 standard claims a user can hold, checked once here for every
 * surface (CLI, admin API, console, apply). Each text field is bounded; a value that fails names
 * its field (`RegistryError.field` is the camelCase name, the message gives the claim name).
 */

/** A change to one field: a value sets it, null or '' clears it, undefined keeps it. */
export type FieldChange<T> = T | null | undefined;

export interface UserAddressInput {
  readonly formatted?: FieldChange<string>;
  readonly streetAddress?: FieldChange<string>;
  readonly locality?: FieldChange<string>;
  readonly region?: FieldChange<string>;
  readonly postalCode?: FieldChange<string>;
  readonly country?: FieldChange<string>;
}

export interface UserProfileInput {
  readonly name?: FieldChange<string>;
  readonly givenName?: FieldChange<string>;
  readonly familyName?: FieldChange<string>;
  readonly email?: FieldChange<string>;
  readonly emailVerified?: FieldChange<boolean>;
  readonly phoneNumber?: FieldChange<string>;
  readonly phoneNumberVerified?: FieldChange<boolean>;
  readonly locale?: FieldChange<string>;
  readonly zoneinfo?: FieldChange<string>;
  readonly picture?: FieldChange<string>;
  /** null clears the whole address; an object changes the members it names. */
  readonly address?: UserAddressInput | null | undefined;
}

/** The text fields, their claim names and their bounds. */
const TEXT_FIELDS = {
  name: { claim: 'name', max: 200 },
  givenName: { claim: 'given_name', max: 100 },
  familyName: { claim: 'family_name', max: 100 },
  email: { claim: 'email', max: 254 },
  phoneNumber: { claim: 'phone_number', max: 40 },
  locale: { claim: 'locale', max: 35 },
  zoneinfo: { claim: 'zoneinfo', max: 64 },
  picture: { claim: 'picture', max: 2048 },
} as const;

const ADDRESS_FIELDS = {
  formatted: { claim: 'address.formatted', max: 500 },
  streetAddress: { claim: 'address.street_address', max: 300 },
  locality: { claim: 'address.locality', max: 100 },
  region: { claim: 'address.region', max: 100 },
  postalCode: { claim: 'address.postal_code', max: 20 },
  country: { claim: 'address.country', max: 100 },
} as const;

/** The profile fields in the order every surface shows them, with their claim names (§5.1). */
export const PROFILE_FIELDS = [
  ['name', 'name'],
  ['givenName', 'given_name'],
  ['familyName', 'family_name'],
  ['email', 'email'],
  ['emailVerified', 'email_verified'],
  ['phoneNumber', 'phone_number'],
  ['phoneNumberVerified', 'phone_number_verified'],
  ['locale', 'locale'],
  ['zoneinfo', 'zoneinfo'],
  ['picture', 'picture'],
  ['address', 'address'],
] as const satisfies readonly (readonly [keyof UserProfile, string])[];

export const ADDRESS_MEMBERS = [
  ['formatted', 'formatted'],
  ['streetAddress', 'street_address'],
  ['locality', 'locality'],
  ['region', 'region'],
  ['postalCode', 'postal_code'],
  ['country', 'country'],
] as const satisfies readonly (readonly [keyof UserAddress, string])[];

/** A practical addr-spec (RFC 5322 §3.4.1 without quoted local parts or comments): local@domain.with.dot. */
const EMAIL = /^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$/;
/** E.164 (§5.1 recommends it): '+', country code, up to 15 digits in all; an extension as ';ext=' (RFC 3966). */
const PHONE = /^\+[1-9][0-9]{1,14}(?:;ext=[0-9]{1,10})?$/;
/** BCP 47 language tag, the common shape: language, optional script, region, variants (en, en-GB, zh-Hant-TW, sr-Latn-RS). */
const LOCALE = /^[A-Za-z]{2,3}(?:-[A-Za-z]{4})?(?:-(?:[A-Za-z]{2}|[0-9]{3}))?(?:-(?:[A-Za-z0-9]{5,8}|[0-9][A-Za-z0-9]{3}))*$/;
/** An IANA time zone name's shape, where the runtime cannot list them. */
const ZONE_SHAPE = /^(?:[A-Za-z][A-Za-z0-9_+-]*)(?:\/[A-Za-z0-9][A-Za-z0-9_+-]*){0,2}$/;
const CONTROL = /[\p{Cc}\p{Cf}]/u;

let zones: ReadonlySet<string> | undefined;
/** The runtime's IANA zones (Intl.supportedValuesOf: Node 18+), with UTC, which some runtimes list as Etc/UTC only. */
function knownZones(): ReadonlySet<string> | undefined {
  if (zones === undefined) {
    const intl = Intl as { supportedValuesOf?: (key: string) => string[] };
    if (typeof intl.supportedValuesOf !== 'function') return undefined;
    zones = new Set([...intl.supportedValuesOf('timeZone'), 'UTC', 'Etc/UTC', 'GMT', 'Etc/GMT']);
  }
  return zones;
}

function refuse(field: string, message: string): RegistryError {
  return new RegistryError('invalid_input', message, field);
}

function checkText(field: string, claim: string, max: number, value: string): string {
  const v = value.trim();
  if (v.length > max) throw refuse(field, `The ${claim} is longer than ${max} characters.`);
  if (CONTROL.test(claim === 'address.formatted' || claim === 'address.street_address' ? v.replace(/\r?\n/g, '') : v)) {
    throw refuse(field, `The ${claim} must not contain control characters${claim.startsWith('address.') ? ' (line breaks are allowed in the formatted and street address)' : ''}.`);
  }
  return v;
}

function checkField(field: keyof typeof TEXT_FIELDS, value: string): string {
  const { claim, max } = TEXT_FIELDS[field];
  const v = checkText(field, claim, max, value);
  switch (field) {
    case 'email':
      if (!EMAIL.test(v)) throw refuse(field, `The email "${v.slice(0, 100)}" is not an email address (local-part@domain.example).`);
      return v;
    case 'phoneNumber': {
      // Spaces, dots, dashes and parentheses are read as the grouping people write; what is stored is E.164.
      const compact = v.replace(/[\s().-]/g, '');
      if (!PHONE.test(compact)) throw refuse(field, `The phone_number "${v.slice(0, 40)}" is not an E.164 number: '+', the country code and the number, at most 15 digits (e.g. +14155550123).`);
      return compact;
    }
    case 'locale':
      if (!LOCALE.test(v)) throw refuse(field, `The locale "${v.slice(0, 35)}" is not a BCP 47 language tag (e.g. en, en-US, fr-CA).`);
      return v;
    case 'zoneinfo': {
      const known = knownZones();
      if (known === undefined ? !ZONE_SHAPE.test(v) : !known.has(v)) throw refuse(field, `The zoneinfo "${v.slice(0, 64)}" is not an IANA time zone name (e.g. Europe/Paris, America/Los_Angeles).`);
      return v;
    }
    case 'picture':
      return checkPicture(v);
    default:
      return v;
  }
}

const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);

/** As the application logo (registry/applications.ts): https, or http on loopback; no credentials, no fragment. */
function checkPicture(value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw refuse('picture', `The picture "${value.slice(0, 200)}" is not an absolute URL.`);
  }
  if (/\s/.test(value)) throw refuse('picture', 'The picture URL must not contain whitespace.');
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && LOOPBACK_HOSTS.has(url.hostname))) {
    throw refuse('picture', `The picture "${value.slice(0, 200)}" must use https (http is accepted only on localhost, 127.0.0.1 or [::1]).`);
  }
  if (url.username !== '' || url.password !== '') throw refuse('picture', 'The picture URL must not contain a user name or password.');
  if (value.includes('#')) throw refuse('picture', 'The picture URL must not contain a fragment.');
  return value;
}

function change<T>(current: T | undefined, next: FieldChange<T>, check: (v: T) => T): T | undefined {
  if (next === undefined) return current;
  if (next === null || (typeof next === 'string' && next.trim() === '')) return undefined;
  return check(next);
}

function checkBoolean(field: string, claim: string, value: unknown): boolean {
  if (typeof value !== 'boolean') throw refuse(field, `The ${claim} must be true or false.`);
  return value;
}

function checkString(field: string, claim: string, value: unknown): string {
  if (typeof value !== 'string') throw refuse(field, `The ${claim} must be a string.`);
  return value;
}

function mergeAddress(current: UserAddress | undefined, input: UserAddressInput | null | undefined): UserAddress | undefined {
  if (input === undefined) return current;
  if (input === null) return undefined;
  if (typeof input !== 'object' || Array.isArray(input)) throw refuse('address', 'The address must be an object (formatted, street_address, locality, region, postal_code, country).');
  const out: Record<string, string> = {};
  for (const [member] of ADDRESS_MEMBERS) {
    const { claim, max } = ADDRESS_FIELDS[member];
    const field = `address.${member}`;
    const v = change<string>(current?.[member], input[member], (s) => checkText(field, claim, max, checkString(field, claim, s)));
    if (v !== undefined) out[member] = v;
  }
  return Object.keys(out).length === 0 ? undefined : out;
}

/**
 * The profile after `input` is applied to `current`: each field checked, empty ones left out.
 * Verified flags are kept only beside their value (email_verified without an email says nothing).
 */
export function mergeProfile(current: UserProfile | undefined, input: UserProfileInput | undefined): UserProfile {
  const base = current ?? {};
  if (input === undefined) return base;
  if (typeof input !== 'object' || input === null || Array.isArray(input)) throw refuse('profile', 'The profile must be an object.');
  const out: Record<string, unknown> = {};
  for (const field of Object.keys(TEXT_FIELDS) as (keyof typeof TEXT_FIELDS)[]) {
    const claim = TEXT_FIELDS[field].claim;
    const v = change<string>(base[field], input[field], (s) => checkField(field, checkString(field, claim, s)));
    if (v !== undefined) out[field] = v;
  }
  const emailVerified = change<boolean>(base.emailVerified, input.emailVerified, (b) => checkBoolean('emailVerified', 'email_verified', b));
  const phoneVerified = change<boolean>(base.phoneNumberVerified, input.phoneNumberVerified, (b) => checkBoolean('phoneNumberVerified', 'phone_number_verified', b));
  // A changed email or phone number is not verified unless this change says so.
  const emailChanged = input.email !== undefined && out.email !== base.email;
  const phoneChanged = input.phoneNumber !== undefined && out.phoneNumber !== base.phoneNumber;
  if (out.email !== undefined && emailVerified !== undefined && !(emailChanged && input.emailVerified === undefined)) out.emailVerified = emailVerified;
  if (out.phoneNumber !== undefined && phoneVerified !== undefined && !(phoneChanged && input.phoneNumberVerified === undefined)) out.phoneNumberVerified = phoneVerified;
  const address = mergeAddress(base.address, input.address);
  if (address !== undefined) out.address = address;
  return orderedProfile(out as UserProfile);
}

/** The profile with its members in PROFILE_FIELDS order (stable JSON, stable diffs in the audit log). */
function orderedProfile(p: UserProfile): UserProfile {
  const out: Record<string, unknown> = {};
  for (const [field] of PROFILE_FIELDS) if (p[field] !== undefined) out[field] = p[field];
  return out as UserProfile;
}

/** The profile input a document or request body gives, read from its §5.1 claim names (snake_case) or our field names. */
export function profileInputFromClaims(body: Readonly<Record<string, unknown>>): UserProfileInput {
  const pick = (field: string, claim: string): unknown => (claim in body ? body[claim] : body[field]);
  const input: Record<string, unknown> = {};
  for (const [field, claim] of PROFILE_FIELDS) {
    const v = pick(field, claim);
    if (v === undefined) continue;
    if (field === 'address' && v !== null && typeof v === 'object' && !Array.isArray(v)) {
      const a = v as Record<string, unknown>;
      const address: Record<string, unknown> = {};
      for (const [member, name] of ADDRESS_MEMBERS) {
        const m = name in a ? a[name] : a[member];
        if (m !== undefined) address[member] = m;
      }
      input.address = address;
    } else input[field] = v;
  }
  return input as UserProfileInput;
}

/** The profile as OpenID Connect claims (snake_case, §5.1): for the admin API, export and UserInfo. */
export function profileClaims(p: UserProfile | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (p === undefined) return out;
  for (const [field, claim] of PROFILE_FIELDS) {
    const v = p[field];
    if (v === undefined) continue;
    if (field === 'address') {
      const a = v as UserAddress;
      const address: Record<string, string> = {};
      for (const [member, name] of ADDRESS_MEMBERS) if (a[member] !== undefined) address[name] = a[member] as string;
      out[claim] = address;
    } else out[claim] = v;
  }
  return out;
}
