/**
 * libpq's multi-host connection URLs, which `pg` does not understand:
 *
 *   postgres://user:password@host1:5432,host2:5433/database?target_session_attrs=read-write
 *
 * parsed into one single-host URL per host (what `pg` is given, one at a time) and the kind of
 * server Latchkey must find among them (`target_session_attrs`). A URL with one host and no
 * target_session_attrs is left alone: the adapter then opens its pool on it exactly as before.
 */
import { ConfigError } from '../../errors/config.js';

/** What a host must be for Latchkey to use it (libpq's target_session_attrs; Latchkey writes, so no standby modes). */
export type TargetSessionAttrs = 'read-write' | 'primary' | 'any';
export const TARGET_SESSION_ATTRS: readonly TargetSessionAttrs[] = ['read-write', 'primary', 'any'];

export interface PostgresHost {
  /** host:port as written for messages (an IPv6 address in brackets). */
  readonly label: string;
  /** The single-host URL for `pg`: the original with only this host, without target_session_attrs. */
  readonly url: string;
}

export interface PostgresHosts {
  readonly hosts: readonly PostgresHost[];
  /** What a usable host is; with several hosts, read-write unless the URL says otherwise. */
  readonly target: TargetSessionAttrs;
  /** True when a primary must be looked for: several hosts, or target_session_attrs given. */
  readonly multi: boolean;
}

const URL_SHAPE = /^(postgres(?:ql)?:\/\/)(?:([^@/?#]*)@)?([^/?#]*)(.*)$/is;

/** One `host[:port]` of the list: a name, an IPv4 address, or `[IPv6]`. */
function splitHost(item: string): { host: string; port: string } | undefined {
  const v6 = /^(\[[^\]]+\])(?::(\d*))?$/.exec(item);
  if (v6 !== null) return { host: v6[1]!, port: v6[2] || '5432' };
  const plain = /^([^:[\]]*)(?::(\d*))?$/.exec(item);
  if (plain === null) return undefined;
  return { host: plain[1] ?? '', port: plain[2] || '5432' };
}

/**
 * Parses a postgres:// URL's host list and target_session_attrs. Throws ConfigError
 * (config.invalid_db) for an empty host in a list, a port that is not a number, or a
 * target_session_attrs Latchkey cannot use; never echoes the URL (it may hold a password).
 */
export function parsePostgresHosts(url: string): PostgresHosts {
  const m = URL_SHAPE.exec(url);
  if (m === null) return { hosts: [{ label: 'localhost:5432', url }], target: 'read-write', multi: false };
  const [, scheme, userinfo, hostList = '', rest = ''] = m;
  const q = rest.indexOf('?');
  const path = q === -1 ? rest : rest.slice(0, q);
  const query = q === -1 ? '' : rest.slice(q + 1);
  const params = new URLSearchParams(query);
  const attrs = params.get('target_session_attrs');
  if (attrs !== null && !(TARGET_SESSION_ATTRS as readonly string[]).includes(attrs)) {
    throw new ConfigError(
      'config.invalid_db',
      `The PostgreSQL URL's target_session_attrs=${JSON.stringify(attrs)} is not one Latchkey can use: it writes, so it needs read-write (the default with several hosts), primary, or any.`,
    );
  }
  if ((params.get('host') ?? '').includes(',')) {
    throw new ConfigError('config.invalid_db', 'Several hosts in the PostgreSQL URL\'s host= parameter are not supported: list them in the URL itself, postgres://user@host1:5432,host2:5432/database.');
  }
  const items = hostList.split(',');
  const multi = items.length > 1 || attrs !== null;
  if (!multi) return { hosts: [{ label: labelOf(hostList, params), url }], target: 'read-write', multi: false };
  params.delete('target_session_attrs');
  const kept = params.toString();
  const hosts = items.map((item, i): PostgresHost => {
    const parts = splitHost(item.trim());
    if (parts === undefined || parts.host === '' || !/^\d{1,5}$/.test(parts.port) || Number(parts.port) > 65535) {
      throw new ConfigError('config.invalid_db', `Host ${i + 1} of the PostgreSQL URL's host list is not host or host:port (an IPv6 address in brackets): postgres://user@host1:5432,host2:5432/database.`);
    }
    const label = `${parts.host}:${parts.port}`;
    return { label, url: `${scheme}${userinfo === undefined ? '' : `${userinfo}@`}${label}${path}${kept === '' ? '' : `?${kept}`}` };
  });
  return { hosts, target: (attrs as TargetSessionAttrs | null) ?? 'read-write', multi: true };
}

function labelOf(hostPart: string, params: URLSearchParams): string {
  const parts = splitHost(hostPart);
  const host = parts?.host || params.get('host') || 'localhost';
  return `${host}:${parts?.port ?? '5432'}`;
}
