import type { Command } from 'commander';
import { createLatchkey } from '../../app.js';
import { loadConfig, parseDbLocation } from '../../config/config.js';
import { shellWord } from '../../core/shell.js';
import { buildHttpServer, markDraining } from '../../http/server.js';
import { scheduleCleanup } from '../../jobs/cleanup.js';
import { scheduleKeyRotation } from '../../jobs/rotate-keys.js';
import { resolveKek, type ResolvedKek } from '../../keys/kek.js';
import { fileChecks, type FilesAtRest } from '../../diagnostics/checks-files.js';
import type { Logger } from '../../core/logger.js';
import { loadApis } from '../../resource-server/load.js';
import { bootstrap, ensureConsoleApplication } from '../../registry/bootstrap.js';
import { openStorage } from '../../storage/open.js';
import type { GrantModule } from '../../grants/types.js';
import { GRANT_MODULE_HELP, type IO } from '../context.js';
import { createServerLogger } from '../log.js';
import { dbArguments, quickStartCommands } from '../next-steps.js';
import { DB_HELP, programDb } from './index.js';

/** How long SIGTERM waits for requests in flight before closing their connections. */
const DRAIN_TIMEOUT_MS = 20_000;

interface ServeOptions {
  port?: string;
  host?: string;
  db?: string;
  apis?: string;
  issuer?: string;
}

/** The banner's next steps; the CLI commands carry the instance's --db when it is not the default. */
export function nextSteps(url: string, db: string): string {
  const { flag } = dbArguments(db);
  return [
    '',
    `Latchkey is listening on ${url}`,
    '',
    'Next steps (in another terminal, from this folder):',
    ...quickStartCommands(db),
    // The URL comes from --host / --issuer: quoted like every printed value (core/shell.ts).
    `  curl -u "$CLIENT_ID:$CLIENT_SECRET" -d grant_type=client_credentials ${shellWord(`${url}/oauth_token.do`)}`,
    `  curl -H "Authorization: Bearer $TOKEN" ${shellWord(`${url}/api/now/v1/whoami`)}`,
    '',
    `Admin console: ${url}/console/ (sign in as admin). Configuration problems: npx latchkey doctor${flag}`,
    '',
  ].join('\n');
}

/** The local files this instance uses, for the doctor's file checks in the admin API and console. */
function filesOf(db: string, kek: ResolvedKek): FilesAtRest {
  const location = parseDbLocation(db);
  return { database: location.kind === 'sqlite' && location.path !== ':memory:' ? location.path : undefined, kek: { source: kek.source, ...(kek.file === undefined ? {} : { file: kek.file }) } };
}

/** Database, WAL, SHM or key files readable by others get a warning at every start (the doctor's finding, with its chmod). */
function warnLooseFiles(logger: Logger, files: FilesAtRest): void {
  for (const f of fileChecks(files).filter((x) => x.id === 'file_permissions_loose')) logger.warn({ finding: f.id, command: f.command }, `${f.detail} Fix: ${f.command ?? ''}`);
}

export async function serve(opts: ServeOptions, io: IO, grants?: readonly GrantModule[]): Promise<number> {
  const config = loadConfig({ port: opts.port, host: opts.host, db: opts.db, apis: opts.apis, issuer: opts.issuer });
  const logger = createServerLogger({ level: config.logLevel, format: config.logFormat });
  // Before anything opens: with PostgreSQL and no LATCHKEY_KEY_ENCRYPTION_KEY, refuse to start.
  const kek = resolveKek(config.db, config.keyEncryptionKey, config.keyEncryptionKeyFile);
  if (kek.warning !== undefined) logger.warn({ kekSource: kek.source, kekFile: kek.file }, kek.warning);
  // APIs are loaded before anything else: a broken module stops the start, nothing half-starts.
  const router = await loadApis(config.apis, { required: config.apisExplicit });
  const storage = await openStorage(config.db, { backgroundCheckpoints: { walLimitBytes: config.walLimitBytes, onProblem: (message) => logger.warn(message) } });
  const files = filesOf(config.db, kek);
  warnLooseFiles(logger, files);
  const boot = await bootstrap({ storage, clock: { now: () => Date.now() } }, config.adminPassword);
  const latchkey = createLatchkey({ storage, logger, router, kek: kek.kek, files, ...(grants === undefined ? {} : { grants }), ...(config.issuer === undefined ? {} : { issuer: config.issuer }) });
  try {
    await latchkey.start();
  } catch (error) {
    await latchkey.stop();
    await storage.close();
    throw error;
  }
  const http = await buildHttpServer(latchkey, { bodyLimit: config.bodyLimit, accessLog: config.accessLog, keepAliveTimeoutMs: config.keepAliveTimeoutSeconds * 1000 });
  let address: string;
  try {
    address = await http.listen({ port: config.port, host: config.host });
  } catch (error) {
    await storage.close();
    const code = (error as { code?: string }).code;
    if (code === 'EADDRINUSE') throw new Error(`Port ${config.port} on ${config.host} is already in use. Choose another with --port or LATCHKEY_PORT.`);
    throw error;
  }
  latchkey.setDefaultIssuer(address);
  // The built-in "Latchkey Console" application signs administrators in to /console.
  await ensureConsoleApplication({ storage, clock: { now: () => Date.now() } }, latchkey.issuer());
  const cleanup = scheduleCleanup({ storage, clock: { now: () => Date.now() }, logger });
  const rotation = scheduleKeyRotation({ keyring: latchkey.keyring, cache: latchkey.cache, clock: latchkey.clock, logger });
  const location = parseDbLocation(config.db);
  logger.info({ address, issuer: latchkey.issuer(), db: location.kind === 'sqlite' ? location.path : 'postgres', kekSource: kek.source, apis: router.list().map((a) => `${a.namespace}/${a.id}`) }, 'latchkey started');
  if (boot.generatedAdminPassword !== undefined) {
    io.err(`\nCreated the admin user. Its generated password, shown only this once:\n\n    ${boot.generatedAdminPassword}\n\nSet LATCHKEY_ADMIN_PASSWORD before the first start to choose it instead.\n`);
  }
  io.err(nextSteps(address.replace('127.0.0.1', 'localhost'), config.db));

  await new Promise<void>((resolve) => {
    let stopping = false;
    const stop = (signal: string) => {
      if (stopping) return;
      stopping = true;
      logger.info({ signal }, 'shutting down: draining in-flight requests');
      // /readyz answers 503 from here on; requests in flight are answered, then each connection closes.
      markDraining(http);
      // A client that keeps a request open for ever does not keep the process alive.
      const force = setTimeout(() => http.server.closeAllConnections(), DRAIN_TIMEOUT_MS);
      force.unref();
      void (async () => {
        try {
          await http.close();
          await cleanup.stop();
          await rotation.stop();
          await latchkey.stop();
          await storage.close();
          logger.info({}, 'stopped');
        } catch (error) {
          logger.error({ err: error instanceof Error ? error.message : String(error) }, 'error while stopping');
        } finally {
          clearTimeout(force);
          resolve();
        }
      })();
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
  return 0;
}

export function registerServe(program: Command, io: IO, run: (p: Promise<number>) => void, grants?: readonly GrantModule[]): void {
  program
    .command('serve')
    .description('Start the server (SQLite in ./data by default)')
    .option('--port <port>', 'port to listen on (env LATCHKEY_PORT, default 8080)')
    .option('--host <host>', 'address to listen on (env LATCHKEY_HOST, default 127.0.0.1)')
    .option('--db <location>', `${DB_HELP}; a new SQLite file is created (or run \`latchkey init\` first)`)
    .option('--apis <folder>', 'folder of REST API modules (env LATCHKEY_APIS, default ./apis)')
    .option('--issuer <url>', 'public base URL, the issuer of tokens and metadata (env LATCHKEY_ISSUER, default the listening address)')
    .option('--grant-module <file>', GRANT_MODULE_HELP)
    .addHelpText(
      'after',
      '\nEnvironment: LATCHKEY_ADMIN_PASSWORD (first admin password), LATCHKEY_BODY_LIMIT (bytes, default 16384),\n' +
        'LATCHKEY_LOG_LEVEL (fatal, error, warn, info, debug, trace or silent; default info), LATCHKEY_LOG_FORMAT (json or pretty; default pretty on a terminal, else JSON lines),\n' +
        'LATCHKEY_ACCESS_LOG (true: one log line per request, without query strings or credentials; default false),\n' +
        'LATCHKEY_WAL_LIMIT_MB (the most the SQLite WAL grows to while serving, default 64; see docs/security.md).\n' +
        'LATCHKEY_KEEP_ALIVE_TIMEOUT (seconds an idle keep-alive connection stays open, default 72: keep it above the idle timeout of\n' +
        'the proxy or load balancer in front, 60 s for nginx and AWS ALB, so that Latchkey never closes a connection the proxy is about to use).\n' +
        'LATCHKEY_KEY_ENCRYPTION_KEY (>= 32 characters) encrypts the JWT signing keys, or LATCHKEY_KEY_ENCRYPTION_KEY_FILE names a file holding it (keep it outside the data folder);\n' +
        'with neither, a SQLite database gets a latchkey.kek file beside it (latchkey doctor warns) and PostgreSQL refuses to start. See docs/jwt-and-keys.md.\n' +
        'A new database file (and its -wal, -shm) is created 0600, a new data folder 0700.\n' +
        'Several instances: give them all the same postgres:// URL; see docs/multi-instance.md. GET /healthz and /readyz are for load balancers; SIGTERM drains.\n' +
        'A primary and its standbys: list every host, postgres://user:password@db1:5432,db2:5432/latchkey; the primary is found and followed through a failover (docs/high-availability.md).\n' +
        'Custom grants: --grant-module <file> (or LATCHKEY_GRANTS) names an ES module whose default export (or grants export) is an array of grant\n' +
        'modules, served after the built-in ones; give every latchkey command the same module (docs/jwt-bearer-and-identity-providers.md, "Grants of your own").\n',
    )
    .action((opts: ServeOptions) => run(serve({ ...opts, db: programDb(program, opts) }, io, grants)));
}
