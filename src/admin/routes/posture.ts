import { buildPosture } from '../../diagnostics/posture.js';
import { findApplication } from '../../registry/applications.js';
import { textParam } from './helpers.js';
import type { AdminRoute, RouteContext } from './types.js';

/**
 * Client posture (diagnostics/posture.ts, the builder `latchkey apps posture` prints): every
 * application's use, exposure and findings with their fixes, worst first. Under /posture rather
 * than /applications/posture, where an application named "posture" would have been shadowed
 * (GET /applications/:clientId takes a name too).
 */

const report = async (ctx: RouteContext, ref: string | undefined) => {
  const { storage, clock } = ctx.latchkey;
  const only = ref === undefined ? undefined : await findApplication(ctx.latchkey, ref);
  return buildPosture({ storage, clock }, only);
};

export const POSTURE_ROUTES: readonly AdminRoute[] = [
  {
    method: 'GET',
    path: '/posture',
    tag: 'applications',
    summary: "Every application's posture, worst first: last use, tokens, calls and refusals over 7 and 30 days, secret age and rotation, authentication strength, all-access and unused scopes, dormancy, the report-only rules it would break; each finding with its fix (as `latchkey apps posture --json`)",
    query: [{ name: 'app', description: 'only this application: its client id, or its name when no other application has it' }],
    handler: (ctx) => report(ctx, textParam(ctx.query, 'app')),
  },
  {
    method: 'GET',
    path: '/applications/:clientId/posture',
    tag: 'applications',
    summary: "One application's posture (as GET /posture?app=)",
    handler: (ctx) => report(ctx, ctx.params.clientId ?? ''),
  },
];
