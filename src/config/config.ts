import { resolve } from 'node:path';
import { ConfigError } from '../errors/config.js';

export { ConfigError };

/**
 * Instance configuration: defaults, environment variables and flags, validated once at start-up.
 * Every value is documented in docs/configuration.md.
 */
export interface Config {
  readonly host: string;
  readonly port: number;
  /**
   * A database location: a SQLite file path (`sqlite:` prefix optional), or a postgres:// (or
   * postgresql://) URL for one or several instances sharing a PostgreSQL database
   * (docs/multi-instance.md). Every CLI command takes the same values through --db / LATCHKEY_DB.
   */
  readonly db: string;
  readonly bodyLimit: number;
  readonly logLevel: string;
  readonly adminPassword: string | undefined;
  /** Folder of API modules, and whether it was chosen explicitly (then it must exist). */
  readonly apis: string;
  readonly apisExplicit: boolean;
  /**
   * The issuer identifier (RFC 8414 §2): --issuer / LATCHKEY_ISSUER, without a trailing slash.
   * Undefined: the listening address (fine on one machine; set it behind a proxy or with several
   * instances, so every token and the metadata name the public URL).
   */
  readonly issuer: string | undefined;
  /**
   * LATCHKEY_KEY_ENCRYPTION_KEY (at least 32 characters): encrypts the signing keys at rest.
   * Undefined: a key file beside a SQLite database (keys/kek.ts); required with PostgreSQL.
   */
  readonly keyEncryptionKey: string | undefined;
  /** LATCHKEY_WAL_LIMIT_MB: the most a SQLite WAL file may grow to while the server runs (bytes). */
  readonly walLimitBytes: number;
  /**
   * LATCHKEY_KEY_ENCRYPTION_KEY_FILE: the absolute path of a file holding the key-encryption key,
   * for keeping it apart from the database (a mounted secret, a folder outside the data folder).
   * Exclusive with keyEncryptionKey.
   */
  readonly keyEncryptionKeyFile: string | undefined;
  /** LATCHKEY_ACCESS_LOG: one log line per request (true/false; default false). */
  readonly accessLog: boolean;
  /**
   * LATCHKEY_LOG_FORMAT: `json` (one JSON object a line) or `pretty` (one readable line, for a
   * person at a terminal). Undefined: pretty when standard output is a terminal, else JSON.
   */
  readonly logFormat: 'json' | 'pretty' | undefined;
  /**
   * LATCHKEY_KEEP_ALIVE_TIMEOUT (seconds): how long an idle keep-alive connection stays open. Longer
   * than the idle timeout of the proxy or load balancer in front (nginx and AWS ALB: 60 s), so that
   * the proxy, never Latchkey, closes an idle connection: a proxy that sends a request on a
   * connection Latchkey is closing answers 502, and does not retry a POST elsewhere.
   */
  readonly keepAliveTimeoutSeconds: number;
}

export const DEFAULT_DB = './data/latchkey.db';
export const DEFAULT_APIS = './apis';
export const DEFAULTS = { host: '127.0.0.1', port: 8080, bodyLimit: 16 * 1024, logLevel: 'info', walLimitMb: 64, keepAliveTimeoutSeconds: 72 } as const;
const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];
const LOG_FORMATS = ['json', 'pretty'] as const;

function switchSetting(name: string, raw: string | undefined, fallback: boolean): boolean {
  if (raw === undefined || raw.trim() === '') return fallback;
  const v = raw.trim().toLowerCase();
  if (['true', '1', 'yes', 'on'].includes(v)) return true;
  if (['false', '0', 'no', 'off'].includes(v)) return false;
  throw new ConfigError('config.invalid_switch', `${name} must be true or false (got "${raw}").`);
}

function logFormatSetting(raw: string | undefined): 'json' | 'pretty' | undefined {
  if (raw === undefined || raw.trim() === '') return undefined;
  const v = raw.trim().toLowerCase();
  if ((LOG_FORMATS as readonly string[]).includes(v)) return v as 'json' | 'pretty';
  throw new ConfigError('config.invalid_log_format', `LATCHKEY_LOG_FORMAT must be json or pretty (got "${raw}").`);
}

export interface ConfigInput {
  host?: string | undefined;
  port?: string | number | undefined;
  db?: string | undefined;
  bodyLimit?: string | number | undefined;
  logLevel?: string | undefined;
  apis?: string | undefined;
  issuer?: string | undefined;
}

function integer(name: string, raw: string | number, min: number, max: number): number {
  const n = typeof raw === 'number' ? raw : /^\d+$/.test(raw.trim()) ? Number(raw) : NaN;
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new ConfigError('config.invalid_integer', `${name} must be a whole number from ${min} to ${max} (got "${raw}").`);
  }
  return n;
}

/**
 * The database location the CLI and the server use: --db, else LATCHKEY_DB, else
 * ./data/latchkey.db. Either a SQLite file or a postgres:// URL (see parseDbLocation).
 */
export function resolveDb(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  return flag ?? env.LATCHKEY_DB ?? DEFAULT_DB;
}

const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);

/**
 * Checks an issuer identifier (RFC 8414 §2): an absolute http(s) URL without query, fragment or
 * credentials; https unless the host is loopback (localhost, 127.0.0.1, ::1). Returns it without a
 * trailing slash.
 */
export function parseIssuer(raw: string, source = 'The issuer (--issuer, LATCHKEY_ISSUER)'): string {
  let url: URL;
  try {
    url = new URL(raw.trim());
  } catch {
    throw new ConfigError('config.invalid_issuer', `${source} must be an absolute URL such as https://auth.example.com (got "${raw}").`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new ConfigError('config.invalid_issuer', `${source} must be an https:// URL (got "${raw}").`);
  }
  if (url.search !== '' || url.hash !== '' || raw.includes('?') || raw.includes('#')) {
    throw new ConfigError('config.invalid_issuer', `${source} must not have a query or fragment (RFC 8414 section 2) (got "${raw}").`);
  }
  if (url.username !== '' || url.password !== '') {
    throw new ConfigError('config.invalid_issuer', `${source} must not contain a user name or password.`);
  }
  if (url.protocol === 'http:' && !LOOPBACK_HOSTS.has(url.hostname)) {
    throw new ConfigError(
      'config.invalid_issuer',
      `${source} must use https (got "${raw}"); http is allowed only for localhost, 127.0.0.1 and ::1. Behind a TLS-terminating proxy, give the public https URL.`,
    );
  }
  return url.href.replace(/\/+$/, '');
}

export function loadConfig(input: ConfigInput, env: NodeJS.ProcessEnv = process.env): Config {
  const logLevel = input.logLevel ?? env.LATCHKEY_LOG_LEVEL ?? DEFAULTS.logLevel;
  if (!LOG_LEVELS.includes(logLevel)) {
    throw new ConfigError('config.invalid_log_level', `LATCHKEY_LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')} (got "${logLevel}").`);
  }
  const host = input.host ?? env.LATCHKEY_HOST ?? DEFAULTS.host;
  if (host.trim() === '') throw new ConfigError('config.invalid_host', 'The host must not be empty.');
  return {
    host,
    port: integer('The port (--port, LATCHKEY_PORT)', input.port ?? env.LATCHKEY_PORT ?? DEFAULTS.port, 0, 65535),
    db: resolveDb(input.db, env),
    bodyLimit: integer('The body limit (LATCHKEY_BODY_LIMIT)', input.bodyLimit ?? env.LATCHKEY_BODY_LIMIT ?? DEFAULTS.bodyLimit, 1024, 10 * 1024 * 1024),
    logLevel,
    adminPassword: env.LATCHKEY_ADMIN_PASSWORD === '' ? undefined : env.LATCHKEY_ADMIN_PASSWORD,
    apis: input.apis ?? env.LATCHKEY_APIS ?? DEFAULT_APIS,
    apisExplicit: (input.apis ?? env.LATCHKEY_APIS) !== undefined,
    issuer: issuerSetting(input.issuer ?? (env.LATCHKEY_ISSUER === '' ? undefined : env.LATCHKEY_ISSUER)),
    ...kekSettings(env),
    walLimitBytes: integer('The WAL limit (LATCHKEY_WAL_LIMIT_MB)', env.LATCHKEY_WAL_LIMIT_MB ?? DEFAULTS.walLimitMb, 4, 4096) * 1024 * 1024,
    accessLog: switchSetting('LATCHKEY_ACCESS_LOG', env.LATCHKEY_ACCESS_LOG, false),
    logFormat: logFormatSetting(env.LATCHKEY_LOG_FORMAT),
    keepAliveTimeoutSeconds: integer('The keep-alive timeout (LATCHKEY_KEEP_ALIVE_TIMEOUT, seconds)', env.LATCHKEY_KEEP_ALIVE_TIMEOUT ?? DEFAULTS.keepAliveTimeoutSeconds, 1, 3600),
  };
}

/**
 * Where a `db` value points: its kind and, for SQLite, the absolute file path. postgres:// and
 * postgresql:// URLs (user, password, host, port, database, and `pg` connection parameters such as
 * `?sslmode=require` or `options=-c search_path=…`) select PostgreSQL; anything else is a file.
 */
export function parseDbLocation(db: string): { kind: 'sqlite'; path: string } | { kind: 'postgres'; url: string } {
  if (/^postgres(ql)?:\/\//i.test(db)) return { kind: 'postgres', url: db };
  const path = db.startsWith('sqlite:') ? db.slice('sqlite:'.length) : db;
  if (path === '') throw new ConfigError('config.invalid_db', 'The database location is empty. Use a file path such as ./data/latchkey.db.');
  return { kind: 'sqlite', path: path === ':memory:' ? path : resolve(path) };
}

function issuerSetting(raw: string | undefined): string | undefined {
  return raw === undefined ? undefined : parseIssuer(raw);
}

/**
 * Where the key-encryption key is configured: LATCHKEY_KEY_ENCRYPTION_KEY (the value) or
 * LATCHKEY_KEY_ENCRYPTION_KEY_FILE (a path), not both; neither means a file beside a SQLite
 * database (keys/kek.ts). The server and every CLI command read them the same way.
 */
export function kekSettings(env: NodeJS.ProcessEnv = process.env): { keyEncryptionKey: string | undefined; keyEncryptionKeyFile: string | undefined } {
  const keyEncryptionKey = kekSetting(env.LATCHKEY_KEY_ENCRYPTION_KEY);
  const file = env.LATCHKEY_KEY_ENCRYPTION_KEY_FILE;
  const keyEncryptionKeyFile = file === undefined || file.trim() === '' ? undefined : resolve(file.trim());
  if (keyEncryptionKey !== undefined && keyEncryptionKeyFile !== undefined) {
    throw new ConfigError(
      'config.kek_conflict',
      'Both LATCHKEY_KEY_ENCRYPTION_KEY and LATCHKEY_KEY_ENCRYPTION_KEY_FILE are set; set only one (the key itself, or the path of the file that holds it).',
    );
  }
  return { keyEncryptionKey, keyEncryptionKeyFile };
}

/** At least 32 characters (base64 of 32 random bytes is 44); the value is used as it is. */
function kekSetting(raw: string | undefined): string | undefined {
  if (raw === undefined || raw === '') return undefined;
  if (raw.length < 32) {
    throw new ConfigError(
      'config.invalid_kek',
      `LATCHKEY_KEY_ENCRYPTION_KEY must be at least 32 characters (got ${raw.length}). Generate one with: openssl rand -base64 32`,
    );
  }
  return raw;
}
