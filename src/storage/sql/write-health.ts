import type { WriteHealth } from '../types.js';

/**
 * What the last write found (Storage.writeHealth), kept the same way by both SQL adapters: a write
 * refused for lack of space or a read-only database marks writes failing (from the first such
 * refusal); the next write that succeeds clears it; any other error leaves it as it was.
 */
export function writeHealthTracker(failureReason: (error: unknown) => string | undefined): { readonly health: () => WriteHealth; readonly note: (error?: unknown) => void } {
  let health: WriteHealth = { failing: false };
  return {
    health: () => health,
    note: (error) => {
      if (error === undefined) {
        if (health.failing) health = { failing: false };
        return;
      }
      const reason = failureReason(error);
      if (reason !== undefined && !health.failing) health = { failing: true, since: Date.now(), reason };
    },
  };
}
