import { usageDayOf, USAGE_DAY_MS } from '../audit/usage.js';
import type { Storage } from '../storage/types.js';
import { appLabel, appLink, commandLine, type Finding, type Snapshot } from './findings.js';
import { dormancy, DORMANT_DAYS_PROPERTY, lastUses } from './posture.js';

/** Checks on how applications are used (the usage counters, audit/usage.ts; the posture's figures). */

/** Each client's last use and since when usage is counted (storage.usage), for the checks below. */
export interface UsageSnapshot {
  readonly lastUse: ReadonlyMap<string, number>;
  readonly countingSince: number | null;
}

export async function loadUsage(storage: Partial<Pick<Storage, 'usage'>>, now: number): Promise<UsageSnapshot | undefined> {
  if (storage.usage === undefined) return undefined;
  const [rows, first] = await Promise.all([storage.usage.list({ since: usageDayOf(now) - 89 * USAGE_DAY_MS }), storage.usage.firstDay()]);
  return { lastUse: lastUses(rows), countingSince: first ?? null };
}

/** application_dormant: an active application with a working client secret, unused for latchkey.posture.dormant_days. */
export function dormantApplications(s: Snapshot, usage: UsageSnapshot | undefined): Finding[] {
  if (usage === undefined) return [];
  const days = s.props[DORMANT_DAYS_PROPERTY];
  const out: Finding[] = [];
  for (const app of s.active) {
    if (app.public || app.secretHash === null) continue;
    const last = usage.lastUse.get(app.clientId) ?? null;
    const { idleDays, dormant } = dormancy(app, last, usage.countingSince, s.now, days);
    if (!dormant) continue;
    out.push({
      id: 'application_dormant',
      severity: 'warning',
      title: 'A dormant application whose client secret still works',
      detail: `Application ${appLabel(app)} has had no token issued and no API call admitted for ${idleDays} days (${last === null ? 'none counted' : `last use ${new Date(last).toISOString()}`}); ${DORMANT_DAYS_PROPERTY} is ${days}. Its client secret still works.`,
      fix: 'Deactivate it (every request with its credentials is then refused; --active true restores it), or delete it once nobody claims it. `latchkey apps posture` shows every application\'s use.',
      command: commandLine(['apps', 'update', app.clientId, '--active', 'false']),
      link: appLink(app),
      target: app.clientId,
    });
  }
  return out;
}
