import type { DatabaseHostStatus } from '../storage/types.js';
import type { Finding } from './findings.js';

/**
 * Checks on a PostgreSQL URL with several hosts (docs/high-availability.md), from what the storage
 * last probed: a listed host that cannot be reached leaves no failover target there, and a second
 * host that takes writes besides the one in use is a split brain.
 */
export function databaseHostChecks(hosts: readonly DatabaseHostStatus[] | undefined): Finding[] {
  if (hosts === undefined) return [];
  const inUse = hosts.find((h) => h.inUse)?.host;
  const out: Finding[] = [];
  for (const h of hosts) {
    if (h.inUse) continue;
    if (h.role === 'unreachable') {
      out.push({
        id: 'database_host_unreachable',
        severity: 'warning',
        title: 'A PostgreSQL host in the URL cannot be reached',
        detail: `${h.host}, listed in the database URL, could not be reached when last probed${h.detail === undefined ? '' : ` (${h.detail})`}. Latchkey uses ${inUse ?? 'no host'}; if that one fails, it cannot fail over to ${h.host}.`,
        fix: `Bring the server at ${h.host} back as a standby of ${inUse ?? 'the primary'} (pg_basebackup -R), or take it out of the URL (LATCHKEY_DB) and restart.`,
        command: `pg_isready -h ${h.host.replace(/:(\d+)$/, ' -p $1')}`,
        target: h.host,
      });
    } else if (h.role === 'primary') {
      const used = hosts.find((x) => x.inUse);
      const tl = (x: DatabaseHostStatus | undefined) => (x?.timeline === undefined ? '' : ` (timeline ${x.timeline})`);
      const why =
        used === undefined
          ? ' Latchkey uses neither: two primaries it cannot tell apart (the same timeline) are a split brain, and requests fail with 503 until one is a standby.'
          : h.timeline !== undefined && used.timeline !== undefined && used.timeline > h.timeline
            ? ` Latchkey uses ${used.host}, promoted later (a higher timeline), and writes nothing to ${h.host}; a Latchkey whose URL lists only ${h.host}, or another client, would.`
            : '';
      out.push({
        id: 'database_several_primaries',
        severity: 'error',
        title: 'Two PostgreSQL hosts in the URL take writes',
        detail: `${h.host}${tl(h)} answers as a writable primary, and so does ${inUse === undefined ? 'another host' : `${inUse}${tl(used)}, which Latchkey uses`}. After a failover the old primary must not come back as a primary: tokens and changes written there are not on the other.${why}`,
        fix: `Stop the server at ${h.host} and rebuild it as a standby of ${inUse ?? 'the primary'} (pg_rewind or pg_basebackup -R), then check that SELECT pg_is_in_recovery() there answers true.`,
        target: h.host,
      });
    }
  }
  return out;
}
