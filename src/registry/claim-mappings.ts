import { RegistryError } from './errors.js';

/**
 * An application's custom claims (issue 15, item 2): claim name → the user field it carries. Sent by
 * UserInfo (src/oidc/claims.ts) when the token has the scope `profile`. A simple form on purpose: a
 * field of the user, or `roles` (the user's role names, a JSON array); no expressions.
 */

/** The user fields a claim can carry (User and its OpenID Connect profile, src/domain/model.ts). */
export const CLAIM_SOURCE_FIELDS = [
  'id', 'userName', 'roles', 'name', 'givenName', 'familyName', 'email', 'emailVerified',
  'phoneNumber', 'phoneNumberVerified', 'locale', 'zoneinfo', 'picture', 'address',
] as const;
export type ClaimSourceField = (typeof CLAIM_SOURCE_FIELDS)[number];

/**
 * Claims whose meaning the specifications fix (RFC 7519 §4.1, OpenID Connect Core §2 and §5.1, RFC 9068
 * §2.2): a mapping may not redefine them, so a relying party never reads a custom value as, say, `sub`.
 */
export const RESERVED_CLAIMS: ReadonlySet<string> = new Set([
  'iss', 'sub', 'aud', 'exp', 'nbf', 'iat', 'jti', 'auth_time', 'nonce', 'acr', 'amr', 'azp', 'at_hash', 'c_hash', 'sid',
  'scope', 'client_id', 'cnf', 'name', 'given_name', 'family_name', 'middle_name', 'nickname', 'preferred_username',
  'profile', 'picture', 'website', 'email', 'email_verified', 'gender', 'birthdate', 'zoneinfo', 'locale',
  'phone_number', 'phone_number_verified', 'address', 'updated_at', '_claim_names', '_claim_sources',
]);

/** A claim name: 1-64 letters, digits, '_', '-', '.', ':', starting with a letter (URIs are allowed by RFC 7519 but not needed here). */
const CLAIM_NAME = /^[A-Za-z][A-Za-z0-9_.:-]{0,63}$/;
export const MAX_CLAIM_MAPPINGS = 32;

/** Checks a whole mapping (null or {} for none); returns it with its claims in name order, or null. */
export function checkClaimMappings(value: unknown): Record<string, ClaimSourceField> | null {
  if (value === null || value === undefined) return null;
  if (typeof value !== 'object' || Array.isArray(value)) throw new RegistryError('invalid_input', 'The claim mappings must be an object of claim name to user field.', 'claimMappings');
  const entries = Object.entries(value as Record<string, unknown>);
  if (entries.length > MAX_CLAIM_MAPPINGS) throw new RegistryError('invalid_input', `An application may map at most ${MAX_CLAIM_MAPPINGS} claims (${entries.length} given).`, 'claimMappings');
  const out: Record<string, ClaimSourceField> = {};
  for (const [claim, field] of entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    if (!CLAIM_NAME.test(claim)) throw new RegistryError('invalid_input', `The claim name "${claim.slice(0, 80)}" is not valid: 1-64 letters, digits, '_', '-', '.', ':', starting with a letter.`, 'claimMappings');
    if (RESERVED_CLAIMS.has(claim)) throw new RegistryError('invalid_input', `The claim "${claim}" is defined by OpenID Connect or JWT and cannot be mapped; choose another name.`, 'claimMappings');
    if (typeof field !== 'string' || !(CLAIM_SOURCE_FIELDS as readonly string[]).includes(field)) {
      throw new RegistryError('invalid_input', `The claim "${claim}" maps to "${String(field).slice(0, 80)}", which is not a user field. Known: ${CLAIM_SOURCE_FIELDS.join(', ')}.`, 'claimMappings');
    }
    out[claim] = field as ClaimSourceField;
  }
  return entries.length === 0 ? null : out;
}

/** `name=field` pairs (the CLI's --claim); `name=` removes a claim from `current`. */
export function applyClaimPairs(current: Readonly<Record<string, string>> | null | undefined, pairs: readonly string[]): Record<string, ClaimSourceField> | null {
  const next: Record<string, string> = { ...(current ?? {}) };
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new RegistryError('invalid_input', `--claim "${pair.slice(0, 80)}" must be name=field (e.g. department=familyName, roles=roles), or name= to remove it.`, 'claimMappings');
    const claim = pair.slice(0, eq).trim();
    const field = pair.slice(eq + 1).trim();
    if (field === '') delete next[claim];
    else next[claim] = field;
  }
  return checkClaimMappings(next);
}
