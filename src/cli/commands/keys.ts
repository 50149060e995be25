import type { Command } from 'commander';
import { createKeyEncryption } from '../../keys/encryption.js';
import { resolveKekFromEnv } from '../../keys/kek.js';
import { DEFAULT_PREPUBLISH_MS, Keyring, keyStates, SIGNING_ALGORITHMS, type KeyState } from '../../keys/keyring.js';
import type { SigningAlgorithm, SigningKey } from '../../domain/model.js';
import { DURATION_SYNTAX, formatDuration } from '../../core/duration.js';
import { CliError, parseDurationFlag } from '../context.js';
import { isoTime, renderTable } from '../table.js';
import type { CommonOptions, Kit } from './index.js';

interface RotateOptions extends CommonOptions {
  readonly alg?: string;
  readonly now?: boolean;
  readonly prepublish?: string;
}

/** "now", or "in 10m" (the CLI's one duration syntax, core/duration.ts). */
function humanDuration(ms: number): string {
  return ms <= 0 ? 'now' : `in ${formatDuration(Math.round(ms / 1000))}`;
}

function view(key: SigningKey, states: ReadonlyMap<string, KeyState>) {
  return {
    kid: key.kid,
    alg: key.alg,
    /** What it signs: access (JWT access tokens) or id_token (OpenID Connect ID tokens). */
    purpose: key.purpose ?? 'access',
    state: states.get(key.kid) ?? 'expired',
    createdAt: isoTime(key.createdAt),
    activatesAt: isoTime(key.activatesAt),
    retiresAt: isoTime(key.retiresAt),
    publishUntil: isoTime(key.publishUntil),
  };
}

function registerList(keys: Command, kit: Kit): void {
  const cmd = keys
    .command('list')
    .description('List the signing keys: next (published, not signing yet), signing, retired (published, no longer signing) and expired (no longer published)')
    .addHelpText('after', `
Columns: SIGNS is what the key signs: JWT access tokens (one key at a time, \`keys rotate\`), or
OpenID Connect ID tokens (one key per algorithm, RS256 and ES256, created when first needed and
rotated on the same schedule, latchkey.keys.rotation_days). ACTIVATES is when a key starts signing, RETIRES when it stops, PUBLISHED UNTIL when it
leaves the JWKS (/oauth/jwks). Private keys are stored encrypted and are never shown.

Examples:
  latchkey keys list
  latchkey keys list --json
`);
  kit.common(cmd).action((opts: CommonOptions) =>
    kit.withDb(opts, async (ctx, out) => {
      const now = ctx.clock.now();
      const list = [...(await ctx.storage.keys.list())].sort((a, b) => a.activatesAt - b.activatesAt || a.createdAt - b.createdAt);
      const states = keyStates(list, now);
      const views = list.map((k) => view(k, states));
      out.result(views, () =>
        renderTable(
          ['KID', 'ALG', 'SIGNS', 'STATE', 'CREATED', 'ACTIVATES', 'RETIRES', 'PUBLISHED UNTIL'],
          views.map((v) => [v.kid, v.alg, v.purpose === 'id_token' ? 'ID tokens' : 'access tokens', v.state, v.createdAt, v.activatesAt, v.retiresAt, v.publishUntil]),
        ),
      );
      if (views.length === 0) out.note('No signing key yet: `latchkey serve` creates one at its first start, or run `latchkey keys rotate`.\n');
    }),
  );
}

function registerRotate(keys: Command, kit: Kit): void {
  const cmd = keys
    .command('rotate')
    .description('Add a new signing key: published in the JWKS at once, signing after the prepublish time; the current key retires then')
    .option('--alg <alg>', `signature algorithm: ${SIGNING_ALGORITHMS.join(' or ')} (default: the current key's, ES256 for the first key)`)
    .option('--prepublish <duration>', `how long the new key is published before it signs: ${DURATION_SYNTAX} (default ${formatDuration(DEFAULT_PREPUBLISH_MS / 1000)})`)
    .option('--now', 'sign with the new key at once (for a compromised key: resource servers that cached the JWKS refetch it on the unknown kid)')
    .addHelpText('after', `
The new key is published in the JWKS (/oauth/jwks) at once and signs after --prepublish (default
10 minutes, twice the JWKS max-age of 5 minutes), so resource servers see it before any token signed
with it. The previous key stops signing then and stays published until every token it signed has
expired (the longest access-token lifespan of the JWT applications + 5 minutes). Running servers
pick the new key up within a second. Needs the same key-encryption key as the servers
(LATCHKEY_KEY_ENCRYPTION_KEY, the file LATCHKEY_KEY_ENCRYPTION_KEY_FILE names, or the latchkey.kek
file beside a SQLite database).

Examples:
  latchkey keys rotate                      # ES256 (or the current algorithm), signing in 10 minutes
  latchkey keys rotate --alg RS256 --prepublish 1h
  latchkey keys rotate --now                # the current key is compromised: switch at once
`);
  kit.common(cmd).action((opts: RotateOptions) =>
    kit.withDb(opts, async (ctx, out) => {
      if (opts.now === true && opts.prepublish !== undefined) throw new CliError('Give either --now or --prepublish, not both.', 2);
      let alg: SigningAlgorithm | undefined;
      if (opts.alg !== undefined) {
        const upper = opts.alg.trim().toUpperCase();
        if (!(SIGNING_ALGORITHMS as readonly string[]).includes(upper)) throw new CliError(`--alg takes ${SIGNING_ALGORITHMS.join(' or ')} (got "${opts.alg}").`, 2);
        alg = upper as SigningAlgorithm;
      }
      const prepublishMs = opts.now === true ? 0 : opts.prepublish === undefined ? DEFAULT_PREPUBLISH_MS : (parseDurationFlag('--prepublish', opts.prepublish) ?? 0) * 1000;
      // As `latchkey serve` resolves it: LATCHKEY_KEY_ENCRYPTION_KEY, LATCHKEY_KEY_ENCRYPTION_KEY_FILE, or the file beside a SQLite database.
      const kek = resolveKekFromEnv(ctx.db);
      if (kek.warning !== undefined) out.warn(kek.warning);
      const keyring = new Keyring({ storage: ctx.storage, clock: ctx.clock, encryption: createKeyEncryption(kek.kek) });
      const result = await keyring.rotate({ ...(alg === undefined ? {} : { alg }), prepublishMs, actor: ctx.actor });
      if (!result.rotated) throw new CliError('Another rotation is running on this database right now. Try again in a moment.');
      const now = ctx.clock.now();
      const all = await ctx.storage.keys.list();
      const states = keyStates(all, now);
      const retired = all.filter((k) => result.retired.some((r) => r.kid === k.kid));
      const value = { key: view(result.key, states), retired: retired.map((k) => view(k, states)) };
      out.result(value, () => {
        const lines = [`Added signing key ${result.key.kid} (${result.key.alg}): published now, signs ${humanDuration(result.key.activatesAt - now)} (${isoTime(result.key.activatesAt)}).`];
        for (const k of retired) lines.push(`Key ${k.kid} stops signing then and stays published until ${isoTime(k.publishUntil)}.`);
        return `${lines.join('\n')}\n`;
      });
    }),
  );
}

export function registerKeys(program: Command, kit: Kit): void {
  const keys = program.command('keys').description('Inspect and rotate the signing keys of JWT access tokens (published at /oauth/jwks)');
  registerList(keys, kit);
  registerRotate(keys, kit);
}
