// The framework-free verifier: `latchkey/middleware`, as docs/middleware.md shows it.
import { createTokenVerifier, TokenRejected, type TokenVerifier, type VerifiedToken, type VerifierOptions } from 'latchkey/middleware';

const options: VerifierOptions = {
  issuer: 'https://auth.example.com',
  audience: ['https://api.example.com'],
  introspection: { clientId: 'rs', clientSecret: 'secret' },
  introspectJwts: true,
  cacheTtlMs: 30_000,
};
const verifier: TokenVerifier = createTokenVerifier(options);

export async function check(header: string | undefined): Promise<string | undefined> {
  try {
    const token: VerifiedToken = await verifier.authenticate(header, ['orders.read']);
    const format: 'jwt' | 'opaque' = token.format;
    return `${format}:${token.subject ?? ''}:${token.scopes.join(' ')}`;
  } catch (error) {
    if (error instanceof TokenRejected) {
      const status: 400 | 401 | 403 | 503 = error.status;
      return `${status} ${error.challenge('api')}`;
    }
    throw error;
  }
}

export async function verifyOnly(token: string): Promise<VerifiedToken> {
  return verifier.verify(token);
}

// @ts-expect-error: the issuer is required
createTokenVerifier({});
