import type { JWTPayload } from 'jose';

/** The claims of a JWT access token of this instance (RFC 9068 §2.2; minted in src/tokens/jwt.ts). */
export interface AccessJwtClaims extends JWTPayload {
  readonly iss: string;
  readonly sub: string;
  readonly aud: string | string[];
  readonly exp: number;
  readonly iat: number;
  readonly jti: string;
  readonly client_id: string;
  readonly scope?: string;
  /** RFC 9449 §6.1: the DPoP key the token is bound to. */
  readonly cnf?: { readonly jkt?: string };
}
