import type { ActClaim } from './model.js';

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
  /**
   * RFC 8693 §4.1: who acts for the user (a token issued by token exchange with an actor token):
   * the actor's sub and client id, the prior actors nested in `act`. Absent: no actor.
   */
  readonly act?: ActClaim;
}
