/**
 * Fact resolvers and live fixes of the caller's side: client authentication (client_auth.*), the
 * resource owner's password (user.*) and password hashing (password.*). The caller was answered
 * the same whether or not the client id or user name exists, is inactive or locked
 * (docs/security.md); the facts here are what tells the administrator which it was.
 *
 * Recorded at the refusal (what only the refusing code knew): the auth method, the methods accepted,
 * when the secret in force was set, the lockout counts and the lock's end, whether the user existed,
 * the hasher's bounds. Resolved here from the registry and the audit log: who deactivated the
 * application or the user and when, who set the secret in force.
 */
import { commandLine } from '../../core/shell.js';
import type { AuditEntry, Facts, FactValue } from '../../domain/model.js';
import type { FactName } from '../../errors/facts.js';
import type { ReasonCode } from '../../errors/reasons.js';
import { iso, type ExplainContext, type FactResolver, type LiveFix } from '../explain.js';

const stringOf = (v: FactValue | undefined): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);

/** Whether the refusal is one of this file's reasons (their user facts read "(none)" for a name no user has). */
const callersReason = (ctx: ExplainContext): boolean => /^(client_auth|user|password)\./.test(ctx.refusal.reason);

function activeIn(text: string | null): boolean | undefined {
  if (text === null) return undefined;
  try {
    const v = (JSON.parse(text) as { active?: unknown } | null)?.active;
    return typeof v === 'boolean' ? v : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The audit entry that made `target` inactive, newest first: an update from active to inactive, or
 * its creation as inactive. Undefined when the audit log (its newest 100 entries) has none.
 */
async function deactivation(ctx: ExplainContext, target: string | undefined, kind: 'application' | 'user'): Promise<AuditEntry | null | undefined> {
  if (target === undefined) return undefined;
  for (const e of await ctx.audit(target)) {
    if (e.action === `${kind}.update` && activeIn(e.before) === true && activeIn(e.after) === false) return e;
    if (e.action === `${kind}.create` && activeIn(e.after) === false) return e;
  }
  return null;
}

const appDeactivation = async (ctx: ExplainContext) => deactivation(ctx, (await ctx.application())?.clientId, 'application');
const userDeactivation = async (ctx: ExplainContext) => deactivation(ctx, (await ctx.user())?.userName, 'user');

/**
 * The audit entry that set the secret in force: the one at the time the refusal recorded
 * (secretRotatedAt), else the newest rotation or the creation. A secret is set by a creation, a
 * rotation, or an update that made a public application confidential.
 */
async function secretEntry(ctx: ExplainContext): Promise<AuditEntry | undefined> {
  const app = await ctx.application();
  if (app === undefined || app.public) return undefined;
  const entries = (await ctx.audit(app.clientId)).filter((e) => ['application.rotate_secret', 'application.create', 'application.update'].includes(e.action));
  const setAt = stringOf(await ctx.fact('secretRotatedAt'));
  const at = setAt === undefined ? Number.NaN : Date.parse(setAt);
  const near = entries.filter((e) => Math.abs(e.at - at) <= 5_000);
  return near.find((e) => e.action === 'application.rotate_secret') ?? near[0] ?? entries.find((e) => e.action !== 'application.update');
}

export const CALLERS_SIDE_RESOLVERS: Partial<Record<FactName, FactResolver>> = {
  applicationDeactivatedAt: async (ctx) => {
    const e = await appDeactivation(ctx);
    return e === undefined ? undefined : e === null ? null : iso(e.at);
  },
  applicationDeactivatedBy: async (ctx) => {
    const e = await appDeactivation(ctx);
    return e === undefined ? undefined : (e?.actor ?? null);
  },
  userDeactivatedAt: async (ctx) => {
    const e = await userDeactivation(ctx);
    return e === undefined ? undefined : e === null ? null : iso(e.at);
  },
  userDeactivatedBy: async (ctx) => {
    const e = await userDeactivation(ctx);
    return e === undefined ? undefined : (e?.actor ?? null);
  },
  secretRotatedBy: async (ctx) => {
    const app = await ctx.application();
    if (app === undefined || app.public) return undefined;
    return (await secretEntry(ctx))?.actor ?? null;
  },
  // For a name no user has, "(none)" rather than nothing (the common resolvers know only existing users).
  userActive: async (ctx) => {
    const user = await ctx.user();
    if (user !== undefined) return user.active;
    return ctx.refusal.userName !== null && callersReason(ctx) ? null : undefined;
  },
  passwordChangedAt: async (ctx) => {
    const user = await ctx.user();
    if (user !== undefined) return iso(user.passwordChangedAt);
    return ctx.refusal.userName !== null && callersReason(ctx) ? null : undefined;
  },
};

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;
const numberOf = (v: FactValue | undefined): number | undefined => (typeof v === 'number' ? v : undefined);

function unknownClient(ctx: ExplainContext, facts: Facts): string | undefined {
  const sent = ctx.refusal.clientId;
  if (sent === null) return undefined;
  const nearest = stringOf(facts.nearestClientId);
  const hint = nearest === undefined ? ' No client id of an application is close to it.' : ` The nearest client id of an application is ${nearest}: if the client means that one, correct the client id it sends.`;
  return `No application has the client id ${JSON.stringify(sent.slice(0, 100))}.${hint} List the applications with: ${commandLine(['apps', 'list'])}.`;
}

async function secretMismatch(ctx: ExplainContext, facts: Facts): Promise<string | undefined> {
  const app = await ctx.application();
  if (app === undefined) return undefined;
  const setAt = stringOf(facts.secretRotatedAt);
  const by = stringOf(facts.secretRotatedBy);
  const rotate = commandLine(['apps', 'rotate-secret', app.clientId]);
  if (setAt === undefined) return `Give the client the application's current secret; if it is lost, make a new one: ${rotate}.`;
  return (
    `The secret in force was set at ${setAt}${by === undefined ? '' : ` by ${by}`}. If this client got tokens before then, it still sends the old secret: give it the current one. ` +
    `If it never worked, it sends something else (with client_secret_basic, the id and secret are form-encoded before base64). If the secret is lost, make a new one: ${rotate} (every client of the application then needs it).`
  );
}

async function applicationInactive(ctx: ExplainContext, facts: Facts): Promise<string | undefined> {
  const app = await ctx.application();
  if (app === undefined) return undefined;
  if (app.active) return `The application is active again, so the client can retry now.`;
  const at = stringOf(facts.applicationDeactivatedAt);
  const by = stringOf(facts.applicationDeactivatedBy);
  const when = at === undefined ? '' : ` It was deactivated at ${at}${by === undefined ? '' : ` by ${by}`}.`;
  return `Activate it if it should work again: ${commandLine(['apps', 'update', app.clientId, '--active', 'true'])}.${when}`;
}

function badCredentials(ctx: ExplainContext, facts: Facts): string | undefined {
  const name = ctx.refusal.userName;
  if (name === null) return undefined;
  if (facts.userExists === false) {
    return `No user is named ${JSON.stringify(name.slice(0, 100))}: check the user name the client sends (${commandLine(['users', 'list'])}), or create the user: printf %s "$PW" | ${commandLine(['users', 'create', name, '--password-stdin'])}.`;
  }
  const failures = numberOf(facts.failures);
  const threshold = numberOf(facts.threshold);
  const counts = failures === undefined || threshold === undefined ? '' : ` This was ${plural(failures, 'failure')} from this source (the lockout threshold is ${threshold}).`;
  const locked = stringOf(facts.lockedUntil);
  const lock = locked === undefined ? '' : ` This source now waits until ${locked}; to let it in at once: ${commandLine(['users', 'unlock', name])}.`;
  return `The password was wrong.${counts}${lock} If the user lost it, set a new one: printf %s "$PW" | ${commandLine(['users', 'update', name, '--password-stdin'])}.`;
}

async function userInactive(ctx: ExplainContext, facts: Facts): Promise<string | undefined> {
  const user = await ctx.user();
  if (user === undefined) return undefined;
  if (user.active) return 'The user is active again, so they can sign in now.';
  const at = stringOf(facts.userDeactivatedAt);
  const by = stringOf(facts.userDeactivatedBy);
  const when = at === undefined ? '' : ` It was deactivated at ${at}${by === undefined ? '' : ` by ${by}`}.`;
  return `Activate the user if they should sign in again: ${commandLine(['users', 'update', user.userName, '--active', 'true'])}.${when}`;
}

function lockedOut(ctx: ExplainContext, facts: Facts): string | undefined {
  const name = ctx.refusal.userName;
  const until = stringOf(facts.lockedUntil);
  if (name === null || until === undefined) return undefined;
  const scope = facts.lockScope === 'user' ? 'for every source the user never signed in from' : 'for this source';
  const stranger = facts.userExists === false ? ' No user has this name: a client with a mistyped user name, or someone guessing.' : '';
  return `The lock holds ${scope} until ${until}: wait, or clear it at once with ${commandLine(['users', 'unlock', name])} (${commandLine(['users', 'locks'])} lists the counts and sources).${stranger}`;
}

function busy(_ctx: ExplainContext, facts: Facts): string | undefined {
  const at = numberOf(facts.hashingConcurrency);
  const queue = numberOf(facts.hashingQueue);
  const retry = numberOf(facts.retryAfterSeconds);
  if (at === undefined || queue === undefined) return undefined;
  return (
    `This instance checks ${plural(at, 'password')} at once with ${queue} waiting, and all were taken; the client was told to retry after ${plural(retry ?? 1, 'second')}. ` +
    `If it happens without an attack, find who sends so many password checks (${commandLine(['users', 'locks'])}, the Refusals page): an integration should use client credentials or refresh tokens, not the password on every call.`
  );
}

export const CALLERS_SIDE_FIXES: Partial<Record<ReasonCode, LiveFix>> = {
  'client_auth.unknown_client': unknownClient,
  'client_auth.secret_mismatch': secretMismatch,
  'client_auth.application_inactive': applicationInactive,
  'user.bad_credentials': badCredentials,
  'user.inactive': userInactive,
  'user.locked_out': lockedOut,
  'password.busy': busy,
};
