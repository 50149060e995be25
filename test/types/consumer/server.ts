// Embedding the server: the package's main entry, `latchkey`.
import { buildHttpServer, createLatchkey, openStorage, OAuthError, REASON_CODES, REASONS, type Latchkey, type ReasonCode, type Storage } from 'latchkey';

export async function embed(): Promise<Latchkey> {
  const storage: Storage = await openStorage('sqlite::memory:');
  const latchkey = createLatchkey({ storage, issuer: 'https://auth.example.com' });
  const http = await buildHttpServer(latchkey, { bodyLimit: 65_536 });
  void http;
  return latchkey;
}

export function describe(reason: ReasonCode): string {
  return REASONS[reason].explanation;
}
export const known: readonly string[] = REASON_CODES;
export const isRefusal = (e: unknown): e is OAuthError => e instanceof OAuthError;
// @ts-expect-error: not a reason code
export const bad: ReasonCode = 'no.such_reason';
