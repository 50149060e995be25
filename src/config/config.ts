import { resolve } from 'node:path';

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
}

export class ConfigError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'ConfigError';
  }
}

export const DEFAULT_DB = './data/latchkey.db';
export const DEFAULT_APIS = './apis';
export const DEFAULTS = { host: '127.0.0.1', port: 8080, bodyLimit: 16 * 1024, logLevel: 'info' } as const;
const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

export interface ConfigInput {
  host?: string | undefined;
  port?: string | number | undefined;
  db?: string | undefined;
  bodyLimit?: string | number | undefined;
  logLevel?: string | undefined;
  apis?: string | undefined;
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
