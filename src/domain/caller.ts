/** How a caller may authenticate to a hosted API. */
export type AuthMethod = 'bearer' | 'basic';

/** Who is calling, as a handler sees it. */
export interface Caller {
  readonly authenticated: boolean;
  readonly method: AuthMethod | 'none';
  readonly user: { readonly id: string; readonly name: string; readonly roles: readonly string[] } | null;
  readonly application: { readonly clientId: string; readonly name: string } | null;
  /** Scopes in effect now: granted, intersected with what the application allows today. */
  readonly scopes: readonly string[];
}
