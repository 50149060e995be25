/**
 * A module resolution hook (node:module register) so that API modules anywhere on disk can
 * `import { defineApi } from 'latchkey/api'` and get the running Latchkey's own module, whether or
 * not a node_modules folder near them holds a copy. One copy also keeps `instanceof ApiError`
 * meaningful. Runs on Node's loader thread; see load.ts.
 */
interface ResolveContext {
  readonly parentURL?: string;
}
type NextResolve = (specifier: string, context: ResolveContext) => Promise<{ url: string }>;

let targets: Record<string, string> = {};

export function initialize(data: { targets: Record<string, string> }): void {
  targets = data.targets;
}

export async function resolve(specifier: string, context: ResolveContext, next: NextResolve): Promise<{ url: string; shortCircuit?: boolean }> {
  const target = targets[specifier];
  if (target !== undefined) return { url: target, shortCircuit: true };
  return next(specifier, context);
}
