import type { GrantType } from '../grants/grant-type.js';
import { authorizationCodeGrant } from './authorization-code.js';
import { clientCredentialsGrant } from './client-credentials.js';
import { passwordGrant } from './password.js';
import { refreshTokenGrant } from './refresh-token.js';
import type { Grant, GrantDeps } from './types.js';

/** The built-in grants, keyed by grant_type. */
export function defaultGrants(deps: GrantDeps): Map<GrantType, Grant> {
  const grants: Grant[] = [clientCredentialsGrant(deps), passwordGrant(deps), refreshTokenGrant(deps), authorizationCodeGrant(deps)] as Grant[];
  return new Map(grants.map((g) => [g.grantType, g]));
}
