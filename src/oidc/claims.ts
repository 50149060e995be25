import type { Application, ClaimsRequest, User, UserAddress } from '../domain/model.js';
import type { ClaimSourceField } from '../registry/claim-mappings.js';
import { ADDRESS_MEMBERS } from '../registry/user-profile.js';

/**
 * The claims of a user that a set of granted scopes releases (OpenID Connect Core 1.0 §5.4), plus
 * an application's custom claims (registry/claim-mappings.ts, sent with `profile`) and the claims
 * the `claims` request parameter asks for (§5.5, `userinfo` member). Only claims with a value are
 * emitted (§5.3.2: "If a Claim is not returned, that Claim Name SHOULD be omitted"); `sub` always.
 */

/** §5.4: the claims each scope value requests. Those Latchkey has no field for are never emitted. */
export const SCOPE_CLAIMS = {
  profile: ['name', 'family_name', 'given_name', 'middle_name', 'nickname', 'preferred_username', 'profile', 'picture', 'website', 'gender', 'birthdate', 'zoneinfo', 'locale', 'updated_at'],
  email: ['email', 'email_verified'],
  address: ['address'],
  phone: ['phone_number', 'phone_number_verified'],
} as const;

export type ClaimScope = keyof typeof SCOPE_CLAIMS;
export const CLAIM_SCOPES = Object.keys(SCOPE_CLAIMS) as ClaimScope[];

/** Every standard claim Latchkey can emit (for discovery's claims_supported). */
export const CLAIMS_SUPPORTED = ['sub', 'name', 'given_name', 'family_name', 'preferred_username', 'picture', 'zoneinfo', 'locale', 'updated_at', 'email', 'email_verified', 'phone_number', 'phone_number_verified', 'address'] as const;

/** The value of one standard claim for a user, or undefined when the user has none. */
function standardClaim(user: User, claim: string): unknown {
  const p = user.profile ?? {};
  switch (claim) {
    case 'sub':
      return user.id;
    case 'name':
      return p.name;
    case 'given_name':
      return p.givenName;
    case 'family_name':
      return p.familyName;
    case 'preferred_username':
      return user.userName;
    case 'picture':
      return p.picture;
    case 'zoneinfo':
      return p.zoneinfo;
    case 'locale':
      return p.locale;
    // §5.1: seconds since the epoch.
    case 'updated_at':
      return Math.floor(user.updatedAt / 1000);
    case 'email':
      return p.email;
    case 'email_verified':
      return p.email === undefined ? undefined : (p.emailVerified ?? false);
    case 'phone_number':
      return p.phoneNumber;
    case 'phone_number_verified':
      return p.phoneNumber === undefined ? undefined : (p.phoneNumberVerified ?? false);
    case 'address':
      return p.address === undefined ? undefined : addressClaim(p.address);
    default:
      return undefined;
  }
}

/** §5.1.1: the address as its JSON members. */
function addressClaim(a: UserAddress): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [member, name] of ADDRESS_MEMBERS) if (a[member] !== undefined) out[name] = a[member] as string;
  return out;
}

/** A user field as a custom claim carries it. */
export function fieldValue(user: User, field: ClaimSourceField): unknown {
  switch (field) {
    case 'id':
      return user.id;
    case 'userName':
      return user.userName;
    case 'roles':
      return [...user.roles];
    case 'address':
      return user.profile?.address === undefined ? undefined : addressClaim(user.profile.address);
    default:
      return user.profile?.[field];
  }
}

/** The `claims` request parameter's userinfo member (§5.5): the claim names asked for. */
export type RequestedClaims = ReadonlySet<string>;

/**
 * Parses the `claims` parameter (§5.5): a JSON object whose `userinfo` member names claims. The
 * `essential`, `value` and `values` of each are accepted and not enforced (§5.5.1: a claim the
 * OP cannot supply is left out, and essential is advisory). Returns undefined when the parameter
 * asks nothing of UserInfo; an Error (message for the client) when it is not such an object.
 */
export function parseClaimsParameter(text: string): RequestedClaims | undefined | Error {
  if (text.length > 4096) return new Error('The claims parameter is longer than 4096 characters.');
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return new Error('The claims parameter is not JSON.');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return new Error('The claims parameter must be a JSON object.');
  const userinfo = (parsed as Record<string, unknown>).userinfo;
  if (userinfo === undefined || userinfo === null) return undefined;
  if (typeof userinfo !== 'object' || Array.isArray(userinfo)) return new Error('The userinfo member of the claims parameter must be a JSON object.');
  for (const v of Object.values(userinfo)) {
    if (v !== null && (typeof v !== 'object' || Array.isArray(v))) return new Error('Each claim in the claims parameter must be null or a JSON object.');
  }
  return new Set(Object.keys(userinfo));
}

/** The longest claims parameter read (§5.5): far beyond any request for the claims Latchkey holds. */
export const MAX_CLAIMS_PARAMETER_LENGTH = 4096;
/** The most claims one member may name. */
export const MAX_REQUESTED_CLAIMS = 64;

/** One member (userinfo or id_token) of the claims parameter: its claim names, or an Error. */
function memberNames(parsed: Record<string, unknown>, member: 'userinfo' | 'id_token'): string[] | Error {
  const value = parsed[member];
  if (value === undefined || value === null) return [];
  if (typeof value !== 'object' || Array.isArray(value)) return new Error(`The ${member} member of the claims parameter must be a JSON object.`);
  const names: string[] = [];
  for (const [name, request] of Object.entries(value as Record<string, unknown>)) {
    // §5.5.1: each Claim is null (default manner) or an object with essential, value or values.
    if (request !== null && (typeof request !== 'object' || Array.isArray(request))) return new Error(`The claim ${name.slice(0, 64)} in the ${member} member of the claims parameter must be null or a JSON object.`);
    if (request !== null) {
      const r = request as Record<string, unknown>;
      if (r.essential !== undefined && typeof r.essential !== 'boolean') return new Error(`essential for the claim ${name.slice(0, 64)} in the claims parameter must be true or false.`);
      if (r.values !== undefined && !Array.isArray(r.values)) return new Error(`values for the claim ${name.slice(0, 64)} in the claims parameter must be a JSON array.`);
    }
    if (name === '' || name.length > 128) return new Error('A claim name in the claims parameter is empty or longer than 128 characters.');
    names.push(name);
  }
  if (names.length > MAX_REQUESTED_CLAIMS) return new Error(`The ${member} member of the claims parameter names more than ${MAX_REQUESTED_CLAIMS} claims.`);
  return names;
}

/**
 * Parses the `claims` request parameter at the authorization endpoint (§5.5): a JSON object whose
 * `userinfo` and `id_token` members name claims, each null or {essential, value, values} (hints
 * only, §5.5.1: a claim the OP cannot supply is left out). Other members are ignored (§5.5: an OP
 * ignores what it does not understand). Only the claim names Latchkey can ever supply are kept.
 * Returns an Error (its message for the client) when it is not such an object.
 */
export function parseClaimsRequest(text: string): ClaimsRequest | Error {
  if (text.length > MAX_CLAIMS_PARAMETER_LENGTH) return new Error(`The claims parameter is longer than ${MAX_CLAIMS_PARAMETER_LENGTH} characters.`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return new Error('The claims parameter is not JSON.');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return new Error('The claims parameter must be a JSON object.');
  const userinfo = memberNames(parsed as Record<string, unknown>, 'userinfo');
  if (userinfo instanceof Error) return userinfo;
  const idToken = memberNames(parsed as Record<string, unknown>, 'id_token');
  if (idToken instanceof Error) return idToken;
  const known = (names: string[]) => [...new Set(names.filter((n) => (CLAIMS_SUPPORTED as readonly string[]).includes(n)))];
  return { userinfo: known(userinfo), idToken: known(idToken) };
}

/** The claims an ID token carries of its own (tokens/id-token.ts): a claims request never sets them. */
const ID_TOKEN_OWN = new Set(['iss', 'sub', 'aud', 'exp', 'iat', 'auth_time', 'nonce', 'sid', 'amr', 'at_hash', 'acr', 'azp', 'c_hash']);

/**
 * The claims the `id_token` member of a claims request asks for (§5.5) that the user has a value
 * for, to go into the ID token; the ID token's own claims (sub, auth_time …) are its minter's.
 */
export function requestedIdTokenClaims(user: User, names: readonly string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const name of names) {
    if (ID_TOKEN_OWN.has(name) || !(CLAIMS_SUPPORTED as readonly string[]).includes(name)) continue;
    const value = standardClaim(user, name);
    if (value !== undefined) out[name] = value;
  }
  return out;
}

/**
 * The UserInfo response body (§5.3.2) for `user` under `scopes`, from `application`: `sub`, the
 * scope claims of §5.4 that have values, the application's custom claims when `profile` is granted,
 * and the standard claims `requested` names (§5.5) among those Latchkey holds.
 */
export function userClaims(user: User, scopes: readonly string[], application: Pick<Application, 'claimMappings'> | undefined, requested?: RequestedClaims): Record<string, unknown> {
  const out: Record<string, unknown> = { sub: user.id };
  const add = (claim: string) => {
    if (claim in out) return;
    const value = standardClaim(user, claim);
    if (value !== undefined) out[claim] = value;
  };
  for (const scope of CLAIM_SCOPES) if (scopes.includes(scope)) for (const claim of SCOPE_CLAIMS[scope]) add(claim);
  // §5.5: individual claims, whatever the scopes; only the standard ones (custom claims follow their mapping).
  if (requested !== undefined) for (const claim of requested) if ((CLAIMS_SUPPORTED as readonly string[]).includes(claim)) add(claim);
  const mappings = application?.claimMappings;
  if (scopes.includes('profile') && mappings !== undefined && mappings !== null) {
    for (const [claim, field] of Object.entries(mappings)) {
      if (claim in out) continue;
      const value = fieldValue(user, field as ClaimSourceField);
      if (value !== undefined) out[claim] = value;
    }
  }
  return out;
}
