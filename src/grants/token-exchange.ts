/**
 * RFC 8693 token exchange: a client holding a token for a user (the subject token) obtains
 * another, narrower token for that user: for another resource, with fewer scopes, never living
 * longer; with an actor token the new token names who acts for the user (`act`, §4.1: delegation),
 * without one it is the user's own (impersonation). What an application may exchange is its
 * exchange policy (registry/exchange-policies.ts); an application without one may not exchange.
 *
 * Subject tokens: our access tokens (opaque or JWT: valid exactly when our APIs would accept them),
 * JWTs of a registered identity provider (validated and mapped to a user as on our APIs,
 * idp/tokens.ts), ID tokens (ours, or a provider's). The exchanged token joins the family of an
 * access token of ours, so whatever ends that family (refresh token reuse, revocation of the
 * refresh token, the user deactivated) ends it too.
 * @see RFC 8693 §2, §3, §4
 */
import { decodeJwt } from 'jose';
import { commandLine, placeholder } from '../core/shell.js';
import { tokenHandle, tokenHint, tokenKey } from '../core/crypto.js';
import { appLabel, appLink } from '../domain/labels.js';
import type { ActClaim, Application, ExchangePolicy, ExchangePolicySpec, TokenRecord, User } from '../domain/model.js';
import { invalidGrant, invalidRequest, invalidScope, invalidTarget, unauthorizedClient } from '../errors/errors.js';
import { factString } from '../errors/fact-values.js';
import { OAuthError } from '../errors/oauth-error.js';
import type { ExternalTokenValidator } from '../idp/tokens.js';
import type { Keyring } from '../keys/keyring.js';
import { nearest } from '../core/nearest.js';
import type { KnownResource } from '../registry/resources.js';
import type { Storage } from '../storage/types.js';
import { IdTokenHintRejected, verifyIdTokenHint } from '../tokens/id-token-hint.js';
import { AccessJwtRejected, isJwtShaped, jtiKey, verifyAccessJwt } from '../tokens/jwt.js';
import { tokenVerdict } from '../tokens/verdict.js';
import { TOKEN_EXCHANGE_GRANT } from './grant-type.js';
import { issueTokens } from './issue.js';
import { audienceOf, checkResources, fitScopes } from './resource.js';
import { effectiveScopes, parseScopeParam, scopesFact } from './scope.js';
import type { GrantContext, GrantDeps, GrantHandler, GrantModule, GrantWarning } from './types.js';

/** RFC 8693 §3: the token type identifiers. */
export const TOKEN_TYPE = {
  accessToken: 'urn:ietf:params:oauth:token-type:access_token',
  refreshToken: 'urn:ietf:params:oauth:token-type:refresh_token',
  idToken: 'urn:ietf:params:oauth:token-type:id_token',
  jwt: 'urn:ietf:params:oauth:token-type:jwt',
} as const;

/** The types a subject or actor token may have. */
export const SUBJECT_TOKEN_TYPES: readonly string[] = [TOKEN_TYPE.accessToken, TOKEN_TYPE.jwt, TOKEN_TYPE.idToken];
/** The types an exchange may issue (requested_token_type). */
export const ISSUED_TOKEN_TYPES: readonly string[] = [TOKEN_TYPE.accessToken, TOKEN_TYPE.jwt];

/** `*` alone in a policy list: any. */
export const ANY = '*';
/** In subjectApplications: the application's own tokens. */
export const SELF = 'self';

/** What the exchange grant reads besides the common grant dependencies (app.ts passes it). */
export interface ExchangeDeps {
  readonly issuer: () => string;
  /** Our published keys: our access JWTs and ID tokens are verified with them. */
  readonly keyring: Pick<Keyring, 'verificationKey' | 'keys'>;
  /** JWTs (and ID tokens) of registered identity providers; absent: none are accepted. */
  readonly external?: ExternalTokenValidator;
  readonly storage: Pick<Storage, 'exchangePolicies' | 'identityProviders'>;
}

/** A validated subject or actor token. */
interface Presented {
  readonly user: User | undefined;
  /** act.sub for an actor: the user name, else the client id of a token without a user, else the JWT's sub. */
  readonly sub: string;
  /** The client id of an application of ours the token was issued to (ours only). */
  readonly clientId?: string;
  /** The issuer of an identity provider's token. */
  readonly iss?: string;
  /** The scopes of the token; undefined: it carries none of ours (an ID token, a provider's JWT without scopes). */
  readonly scopes: readonly string[] | undefined;
  /** When it ends (ms). */
  readonly expiresAt: number;
  /** An access token of ours: its record (family, act, audience). */
  readonly record?: TokenRecord;
  /** Where it came from, for the policy: app:<client id>, idp:<name>, id_token:<client id>, id_token:idp:<name>. */
  readonly source: string;
  /** The verified claims of a JWT (may_act, act), else undefined. */
  readonly claims?: Readonly<Record<string, unknown>>;
}

interface Plan {
  readonly application: Application;
  readonly user: User;
  readonly scopes: string[];
  readonly audience: string[] | undefined;
  readonly familyId: string | undefined;
  readonly act: ActClaim | undefined;
  readonly lifetime: number;
  readonly issuedTokenType: string;
}

const PARAM = {
  subjectToken: 'subject_token',
  subjectTokenType: 'subject_token_type',
  actorToken: 'actor_token',
  actorTokenType: 'actor_token_type',
  requested: 'requested_token_type',
  audience: 'audience',
} as const;

/** At most this many characters of a token are read (ours are well under 2 KiB). */
const MAX_TOKEN_LENGTH = 16_384;
/** How deep an act chain may nest before it is refused (a loop or an abuse, not a real chain). */
const MAX_ACT_DEPTH = 8;

const policyCommand = (clientId: string) => commandLine(['exchange', 'policies', 'set', clientId, '--subject-apps', placeholder('client-ids|*'), '--resources', placeholder('uris|*'), '--scopes', placeholder('scopes|*')]);

function unsupportedType(parameter: string, value: string, supported: readonly string[], extra = ''): OAuthError {
  return invalidRequest
    .withReason('exchange.token_type_unsupported')
    .withDescription(`The ${parameter} ${JSON.stringify(value.slice(0, 100))} is not supported.${extra} Supported: ${supported.join(', ')}.`)
    .withFacts({ exchangeParameter: parameter, exchangeTokenType: factString(value, 200), supportedTokenTypes: [...supported] });
}

function checkType(parameter: string, value: string, supported: readonly string[]): void {
  if (supported.includes(value)) return;
  const extra = value === TOKEN_TYPE.refreshToken
    ? parameter === PARAM.requested
      ? ' An exchange never issues a refresh token: exchange the subject token again when the issued token expires.'
      : ' Refresh tokens are not exchanged: exchange an access token issued with it (refresh it first at this endpoint).'
    : '';
  throw unsupportedType(parameter, value, supported, extra);
}

/** The refusal of a subject or actor token that is not valid: invalid_grant, with why (never the token). */
function badToken(role: 'subject' | 'actor', type: string, problem: string, record?: TokenRecord): OAuthError {
  const error = invalidGrant
    .withReason(role === 'subject' ? 'exchange.subject_invalid' : 'exchange.actor_invalid')
    .withDescription(`The ${role}_token is not valid: ${problem}`)
    .withFacts({ exchangeTokenType: type, exchangeTokenProblem: factString(problem, 300), ...(record === undefined ? {} : { token: tokenHandle(record.hash) }) });
  return record === undefined ? error : error.withHint(tokenHint(record.hash));
}

/** A JSON object claim (act, may_act) as an ActClaim, bounded in depth; undefined when it is not one. */
function actOf(value: unknown, depth = 0): ActClaim | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value) || depth > MAX_ACT_DEPTH) return undefined;
  const v = value as Record<string, unknown>;
  if (typeof v.sub !== 'string') return undefined;
  const inner = actOf(v.act, depth + 1);
  return {
    sub: v.sub.slice(0, 500),
    ...(typeof v.client_id === 'string' ? { client_id: v.client_id.slice(0, 200) } : {}),
    ...(typeof v.iss === 'string' ? { iss: v.iss.slice(0, 500) } : {}),
    ...(inner === undefined ? {} : { act: inner }),
  };
}

function actDepth(act: ActClaim | undefined): number {
  let depth = 0;
  for (let a = act; a !== undefined; a = a.act) depth++;
  return depth;
}

/** Whether a policy list allows `value` (`*`: any). */
const allows = (list: readonly string[], value: string): boolean => list.includes(ANY) || list.includes(value);

/** The sources a policy allows, as the facts name them. */
function allowedSources(spec: ExchangePolicySpec): string[] {
  return [...spec.subjectApplications.map((a) => `app:${a}`), ...spec.identityProviders.map((i) => `idp:${i}`), ...(spec.idTokens ? ['id_tokens'] : [])];
}

/**
 * Token exchange (RFC 8693): a narrower token for the subject token's user, for another resource,
 * acting for the user (delegation, `act`) or as the user (impersonation, when the policy allows).
 */
export const tokenExchange: GrantModule<Plan> = {
  grantType: TOKEN_EXCHANGE_GRANT,
  alias: 'token_exchange',
  label: 'Token exchange',
  summary: 'A service or agent trades a token it received for a user for a narrower one (another resource, fewer scopes, acting for the user); RFC 8693.',
  parameters: [
    { name: PARAM.subjectToken, required: true, description: 'The token of the user the new token is for (RFC 8693 §2.1).' },
    { name: PARAM.subjectTokenType, required: true, description: `Its type: ${SUBJECT_TOKEN_TYPES.join(', ')}.` },
    { name: PARAM.actorToken, required: false, description: 'The token of the party acting for the user (delegation: the new token carries act).' },
    { name: PARAM.actorTokenType, required: false, description: 'The actor token\'s type (required with actor_token).' },
    { name: PARAM.requested, required: false, description: `The type of token wanted: ${ISSUED_TOKEN_TYPES.join(' (default), ')}.` },
    { name: PARAM.audience, required: false, description: 'The logical name (or identifier) of a resource the new token is for; resource works too.' },
  ],
  clientAuth: 'confidential',
  publicClientReason: 'grant.client_credentials_public_client',
  adminApi: false,
  checks({ application: app }) {
    const warnings: GrantWarning[] = [];
    if (app.public) warnings.push({ id: 'grant.client_credentials_public_client', text: `the application is public, and token exchange needs a confidential client. Fix: ${commandLine(['apps', 'update', app.clientId, '--public', 'false'])}` });
    return warnings;
  },
  example: {
    params: () => ['-d', 'subject_token=<access token of the user>', '-d', `subject_token_type=${TOKEN_TYPE.accessToken}`, '-d', 'actor_token=<token of the acting service>', '-d', `actor_token_type=${TOKEN_TYPE.accessToken}`],
    immediate: false,
  },
  createHandler: tokenExchangeHandler,
};

function tokenExchangeHandler(deps: GrantDeps): GrantHandler<Plan> {
  const jwtDeps = (x: ExchangeDeps) => ({ keyring: x.keyring, issuer: x.issuer, clock: deps.clock });

  /** An access token of ours (opaque, or JWT by its jti): valid exactly when our APIs would accept it (audience aside). */
  async function ours(role: 'subject' | 'actor', type: string, token: string, x: ExchangeDeps): Promise<Presented> {
    let key: string;
    let notAfter = Infinity;
    let claims: Record<string, unknown> | undefined;
    if (isJwtShaped(token)) {
      try {
        const verified = await verifyAccessJwt(jwtDeps(x), token);
        claims = verified as unknown as Record<string, unknown>;
        key = jtiKey(verified.jti);
        notAfter = verified.exp * 1000;
      } catch (error) {
        if (error instanceof AccessJwtRejected) throw badToken(role, type, `${error.message} (an access token of this server was expected).`);
        throw error;
      }
    } else {
      key = tokenKey(token);
    }
    const record = await deps.storage.tokens.byHash(key);
    if (record === undefined) throw badToken(role, type, 'no access token of this server has this value (never issued here, or expired and purged).');
    if (record.kind !== 'access') throw badToken(role, type, `it is a ${record.kind} token, not an access token.`, record);
    const verdict = await tokenVerdict(deps, record, { notAfter });
    if (!verdict.valid) {
      const why = { 'token.revoked': 'it was revoked.', 'token.expired': 'it has expired.', 'token.application_inactive': 'its application is inactive.', 'token.wrong_audience': 'it is for another audience.', 'token.user_inactive': 'its user is inactive.' }[verdict.reason];
      throw badToken(role, type, why, record);
    }
    return {
      user: verdict.user,
      sub: verdict.user?.userName ?? verdict.app.clientId,
      clientId: verdict.app.clientId,
      scopes: effectiveScopes(record.scopes, verdict.app),
      expiresAt: verdict.expiresAt,
      record,
      source: `app:${verdict.app.clientId}`,
      ...(claims === undefined ? {} : { claims }),
    };
  }

  /** A JWT of a registered identity provider (an access token or an ID token): validated and mapped to a user as on our APIs. */
  async function external(role: 'subject' | 'actor', type: string, token: string, iss: string, x: ExchangeDeps): Promise<Presented> {
    if (x.external === undefined) throw badToken(role, type, 'this server accepts no identity provider tokens.');
    let found;
    try {
      found = await x.external.validate(token, iss);
    } catch (error) {
      if (error instanceof OAuthError && error.status < 500) {
        throw badToken(role, type, error.description).withFacts({ ...(error.facts ?? {}), exchangeTokenType: type, exchangeTokenProblem: factString(error.description, 300) });
      }
      throw error;
    }
    const claims = decodeJwt(token) as Record<string, unknown>;
    const provider = (await x.storage.identityProviders.list()).find((p) => p.active && p.issuer === iss);
    const name = provider?.name ?? iss;
    const scopes = found.caller.scopes.length === 0 ? undefined : [...found.caller.scopes];
    return {
      user: found.caller.user === null ? undefined : ((deps.cache.peekUserById(found.caller.user.id) ?? (await deps.cache.userById(found.caller.user.id))) as User | undefined),
      sub: typeof claims.sub === 'string' ? claims.sub : (found.caller.user?.name ?? ''),
      iss,
      scopes,
      expiresAt: found.expiresAt,
      source: type === TOKEN_TYPE.idToken ? `id_token:idp:${name}` : `idp:${name}`,
      claims,
    };
  }

  /** An ID token of ours (signed by an ID-token key, our issuer, unexpired): its sub is the user's id, its aud the client. */
  async function ourIdToken(role: 'subject' | 'actor', type: string, token: string, x: ExchangeDeps): Promise<Presented> {
    const now = deps.clock.now();
    let hint;
    try {
      hint = await verifyIdTokenHint({ keyring: x.keyring, issuer: x.issuer }, token, now);
    } catch (error) {
      if (error instanceof IdTokenHintRejected) throw badToken(role, type, error.message.replace(/id_token_hint/g, 'ID token'));
      throw error;
    }
    if (hint.exp === undefined || hint.exp * 1000 <= now) throw badToken(role, type, 'the ID token has expired.');
    const user = deps.cache.peekUserById(hint.sub) ?? (await deps.cache.userById(hint.sub));
    if (user === undefined || !user.active) throw badToken(role, type, 'the user of the ID token is unknown or inactive.');
    const clientId = hint.aud[0] ?? '';
    return { user, sub: user.userName, clientId, scopes: undefined, expiresAt: hint.exp * 1000, source: `id_token:${clientId}`, claims: decodeJwt(token) as Record<string, unknown> };
  }

  /** A subject or actor token of any supported type, validated. */
  async function present(role: 'subject' | 'actor', token: string, type: string, x: ExchangeDeps): Promise<Presented> {
    if (token === '' || token.length > MAX_TOKEN_LENGTH) throw badToken(role, type, token === '' ? 'it is empty.' : `it is longer than ${MAX_TOKEN_LENGTH} characters.`);
    if (type === TOKEN_TYPE.accessToken && !isJwtShaped(token)) return ours(role, type, token, x);
    if (!isJwtShaped(token)) throw badToken(role, type, 'it is not a JWT (three base64url parts), as its type says it is.');
    let iss: unknown;
    try {
      iss = decodeJwt(token).iss;
    } catch {
      throw badToken(role, type, 'its header or payload is not base64url-encoded JSON.');
    }
    if (typeof iss !== 'string' || iss === '') throw badToken(role, type, 'it has no issuer (iss).');
    const mine = iss === x.issuer();
    if (type === TOKEN_TYPE.idToken) return mine ? ourIdToken(role, type, token, x) : external(role, type, token, iss, x);
    if (mine) return ours(role, type, token, x);
    if (type === TOKEN_TYPE.accessToken) throw badToken(role, type, `it was issued by ${iss.slice(0, 200)}, not this server: send a registered identity provider's token with the type ${TOKEN_TYPE.jwt}.`);
    return external(role, type, token, iss, x);
  }

  /** Refuses a subject from a source the policy does not allow. */
  function checkSource(policy: ExchangePolicy, app: Application, subject: Presented): void {
    const spec = policy.spec;
    const [kind, ...rest] = subject.source.split(':');
    const rest1 = rest.join(':');
    let allowed: boolean;
    if (kind === 'app') allowed = allows(spec.subjectApplications, rest1) || (rest1 === app.clientId && spec.subjectApplications.includes(SELF));
    else if (kind === 'idp') allowed = allows(spec.identityProviders, rest1);
    else if (rest1.startsWith('idp:')) allowed = spec.idTokens && allows(spec.identityProviders, rest1.slice(4));
    else allowed = spec.idTokens && (allows(spec.subjectApplications, rest1) || (rest1 === app.clientId && spec.subjectApplications.includes(SELF)));
    if (allowed) return;
    const flag = kind === 'app' ? `--subject-apps ${[...spec.subjectApplications, rest1].join(',')}` : kind === 'idp' ? `--idps ${[...spec.identityProviders, rest1].join(',')}` : '--id-tokens true';
    throw unauthorizedClient
      .withReason('exchange.subject_not_allowed')
      .withDescription(`The exchange policy of ${app.name} does not allow exchanging tokens from ${subject.source.slice(0, 200)}. An administrator can allow it with \`latchkey exchange policies set ${app.clientId} ${flag.slice(0, 300)}\`.`)
      .withFacts({ exchangePolicy: app.clientId, subjectSource: factString(subject.source, 300), allowedSources: allowedSources(spec) });
  }

  /** RFC 8693 §4.4: a subject token's may_act names who may act for its subject. */
  function checkMayAct(subject: Presented, actor: Presented): void {
    const mayAct = subject.claims?.may_act;
    if (mayAct === undefined) return;
    const m = typeof mayAct === 'object' && mayAct !== null && !Array.isArray(mayAct) ? (mayAct as Record<string, unknown>) : {};
    const okSub = m.sub === undefined || m.sub === actor.sub;
    const okClient = m.client_id === undefined || m.client_id === actor.clientId;
    const okIss = m.iss === undefined || m.iss === (actor.iss ?? deps.exchange?.issuer());
    const bounded = m.sub !== undefined || m.client_id !== undefined;
    if (okSub && okClient && okIss && bounded) return;
    const allowed = [m.sub === undefined ? '' : `sub ${String(m.sub)}`, m.client_id === undefined ? '' : `client_id ${String(m.client_id)}`].filter((v) => v !== '').map((v) => v.slice(0, 200));
    throw invalidGrant
      .withReason('exchange.may_act_refused')
      .withDescription(`The subject token's may_act does not allow this actor (sub ${actor.sub.slice(0, 100)}${actor.clientId === undefined ? '' : `, client_id ${actor.clientId}`}) to act for its subject.`)
      .withFacts({ actorSubject: factString(`${actor.sub}${actor.clientId === undefined ? '' : ` (client_id ${actor.clientId})`}`, 300), allowedActors: allowed });
  }

  /** The resources of the new token: the `resource` parameters (checked by the token endpoint) and the `audience` (a name or identifier), within the policy. */
  async function targets(ctx: GrantContext, policy: ExchangePolicy, app: Application): Promise<KnownResource[]> {
    const found = [...(ctx.resources ?? [])];
    const audience = ctx.params.audience;
    if (audience !== undefined) {
      const view = deps.resources === undefined ? undefined : (deps.resources.peek() ?? (await deps.resources.load()));
      const known = view?.find(audience) ?? view?.resources.find((r) => r.name === audience || r.key === audience);
      if (known === undefined) {
        const near = view === undefined ? undefined : nearest(audience, [...view.uris(), ...view.resources.map((r) => r.name)]);
        throw invalidTarget
          .withReason('exchange.audience_unknown')
          .withDescription(`The audience ${JSON.stringify(audience.slice(0, 200))} is neither the name nor the identifier of a resource known to this server. List them with \`latchkey resources list\`.`)
          .withFacts({ requestedAudience: factString(audience, 300), nearestResource: near ?? null });
      }
      // The application's own resource limit applies to an audience as to a resource.
      const [checked] = await checkResources(deps.resources, app, [known.uri]);
      if (checked !== undefined && !found.some((r) => r.uri === checked.uri)) found.push(checked);
    }
    // A token without a resource is good at every hosted API of this server: only where the policy allows any.
    if (found.length === 0 && !policy.spec.resources.includes(ANY)) {
      throw invalidTarget
        .withReason('exchange.target_not_allowed')
        .withDescription(
          policy.spec.resources.length === 0
            ? `The exchange policy of ${app.name} allows no resource. An administrator can allow some with \`latchkey exchange policies set ${app.clientId} --resources <uris>\`.`
            : `The exchange policy of ${app.name} allows tokens only for ${policy.spec.resources.join(', ').slice(0, 300)}: name one with resource (or audience).`,
        )
        .withFacts({ exchangePolicy: app.clientId, requestedResource: null, policyResources: policy.spec.resources.map((u) => u.slice(0, 300)) });
    }
    for (const r of found) {
      if (allows(policy.spec.resources, r.uri)) continue;
      throw invalidTarget
        .withReason('exchange.target_not_allowed')
        .withDescription(`The exchange policy of ${app.name} does not allow tokens for ${r.uri.slice(0, 300)}. An administrator can allow it with \`latchkey exchange policies set ${app.clientId} --resources ${[...policy.spec.resources, r.uri].join(',').slice(0, 500)}\`.`)
        .withFacts({ exchangePolicy: app.clientId, requestedResource: r.uri.slice(0, 300), policyResources: policy.spec.resources.map((u) => u.slice(0, 300)) });
    }
    return found;
  }

  /** The scopes of the new token: within the subject token's (when it carries ours), the policy's and the application's. */
  function scopesFor(ctx: GrantContext, policy: ExchangePolicy, app: Application, subject: Presented, resources: readonly KnownResource[]): string[] {
    const requested = parseScopeParam(ctx.params.scope);
    const ceiling = subject.scopes ?? app.scopes;
    const byPolicy = (s: string) => allows(policy.spec.scopes, s);
    if (requested === undefined) return fitScopes(resources, ceiling.filter((s) => byPolicy(s) && app.scopes.includes(s)), false);
    const broader = requested.filter((s) => !ceiling.includes(s));
    if (broader.length > 0) {
      throw invalidScope
        .withReason('exchange.scope_broader')
        .withDescription(`An exchange only narrows: the subject token does not carry ${broader.join(', ').slice(0, 300)} (it has ${ceiling.join(' ').slice(0, 300) || 'no scope'}).`)
        .withFacts({ requestedScopes: scopesFact(requested), tokenScopes: scopesFact(ceiling), scopesBeyondGrant: scopesFact(broader), ...(subject.record === undefined ? {} : { token: tokenHandle(subject.record.hash) }) });
    }
    const refused = requested.filter((s) => !byPolicy(s) || !app.scopes.includes(s));
    if (refused.length > 0) {
      throw invalidScope
        .withReason('exchange.scope_not_allowed')
        .withDescription(`The exchange policy of ${app.name} (or the application's scopes) does not allow ${refused.join(', ').slice(0, 300)}. An administrator can allow it with \`latchkey exchange policies set ${app.clientId} --scopes ${[...policy.spec.scopes, ...refused].join(',').slice(0, 300)}\`.`)
        .withFacts({ exchangePolicy: app.clientId, requestedScopes: scopesFact(requested), policyScopes: scopesFact(policy.spec.scopes) });
    }
    return fitScopes(resources, requested, true);
  }

  return {
    async validate(ctx) {
      const app = ctx.client.application;
      const x = deps.exchange;
      const policy = x === undefined ? undefined : await x.storage.exchangePolicies.byClientId(app.clientId);
      if (x === undefined || policy === undefined) {
        throw unauthorizedClient
          .withReason('exchange.no_policy')
          .withDescription(`The application ${app.name} has no token exchange policy, so it may not exchange tokens. An administrator can add one with \`${policyCommand(app.clientId)}\`.`)
          .withFacts({ exchangePolicy: null });
      }
      const p = ctx.params;
      const subjectType = p.subject_token_type ?? '';
      checkType(PARAM.subjectTokenType, subjectType, SUBJECT_TOKEN_TYPES);
      if ((p.actor_token === undefined) !== (p.actor_token_type === undefined)) {
        const missing = p.actor_token === undefined ? PARAM.actorToken : PARAM.actorTokenType;
        throw invalidRequest
          .withReason('exchange.actor_type_missing')
          .withDescription(`actor_token and actor_token_type go together: ${missing} is missing (RFC 8693 §2.1).`)
          .withFacts({ exchangeParameter: missing });
      }
      if (p.actor_token_type !== undefined) checkType(PARAM.actorTokenType, p.actor_token_type, SUBJECT_TOKEN_TYPES);
      const issuedTokenType = p.requested_token_type ?? TOKEN_TYPE.accessToken;
      checkType(PARAM.requested, issuedTokenType, ISSUED_TOKEN_TYPES);

      const subject = await present('subject', p.subject_token ?? '', subjectType, x);
      if (subject.user !== undefined) ctx.refusal.userName = subject.user.userName;
      if (subject.user === undefined || !subject.user.active) throw badToken('subject', subjectType, 'it names no active user of this server.', subject.record);
      checkSource(policy, app, subject);

      let act: ActClaim | undefined;
      if (p.actor_token !== undefined && p.actor_token_type !== undefined) {
        const actor = await present('actor', p.actor_token, p.actor_token_type, x);
        checkMayAct(subject, actor);
        // RFC 8693 §4.1: the current actor outermost, the subject token's chain nested in it.
        const prior = subject.record?.act ?? actOf(subject.claims?.act) ?? undefined;
        if (actDepth(prior) >= MAX_ACT_DEPTH) throw badToken('subject', subjectType, `its delegation chain (act) is already ${MAX_ACT_DEPTH} deep.`, subject.record);
        act = { sub: actor.sub, ...(actor.clientId === undefined ? {} : { client_id: actor.clientId }), ...(actor.iss === undefined ? {} : { iss: actor.iss }), ...(prior === undefined ? {} : { act: prior }) };
      } else {
        if (!policy.spec.impersonation) {
          throw unauthorizedClient
            .withReason('exchange.impersonation_not_allowed')
            .withDescription(`The exchange policy of ${app.name} allows delegation only: send the acting party's token as actor_token (with actor_token_type), or an administrator can allow impersonation with \`latchkey exchange policies set ${app.clientId} --impersonation true\`.`)
            .withFacts({ exchangePolicy: app.clientId });
        }
        // §4.4: a subject token naming who may act for its subject: without an actor token the
        // requesting client itself takes the subject's place, so it must be the one named.
        if (subject.claims?.may_act !== undefined) checkMayAct(subject, { user: undefined, sub: app.clientId, clientId: app.clientId, scopes: undefined, expiresAt: 0, source: '' });
        // Impersonation keeps the subject token's own chain: an exchange never drops who acted.
        act = subject.record?.act ?? actOf(subject.claims?.act) ?? undefined;
      }

      const resources = await targets(ctx, policy, app);
      const scopes = scopesFor(ctx, policy, app, subject, resources);
      // Never longer than the subject token (and the application's lifespan, applied when minting).
      const lifetime = Math.floor((subject.expiresAt - deps.clock.now()) / 1000);
      if (lifetime < 1) {
        throw invalidGrant
          .withReason('exchange.subject_expiring')
          .withDescription('The subject token ends within a second: exchange a fresh one.')
          .withFacts({ expiredAt: new Date(subject.expiresAt).toISOString() });
      }
      return {
        application: app,
        user: subject.user,
        scopes,
        audience: audienceOf(resources),
        familyId: subject.record?.familyId,
        act,
        lifetime,
        issuedTokenType,
      };
    },

    async issue(plan, ctx) {
      // requested_token_type jwt: a JWT access token whatever the application's format.
      const application = plan.issuedTokenType === TOKEN_TYPE.jwt && plan.application.tokenFormat !== 'jwt' ? { ...plan.application, tokenFormat: 'jwt' as const } : plan.application;
      const body = await issueTokens(deps, {
          application,
          userId: plan.user.id,
          scopes: plan.scopes,
          grantType: TOKEN_EXCHANGE_GRANT,
          ...(plan.familyId === undefined ? {} : { familyId: plan.familyId }),
          // RFC 8693 §2.2.1: a refresh token only where a policy allows it; none does.
          withRefreshToken: false,
          audience: plan.audience,
          act: plan.act,
          lifetime: plan.lifetime,
          // RFC 9449: an exchange proven with DPoP gets a token bound to that key.
          jkt: ctx.dpopJkt,
        });
      return { ...body, issued_token_type: plan.issuedTokenType };
    },
  };
}

/** The doctor's findings about exchange policies: a policy of a deleted application, or naming a deleted application or identity provider. */
export function exchangePolicyFindings(
  policies: readonly ExchangePolicy[],
  applications: readonly Application[],
  providers: readonly { readonly name: string }[],
): { id: string; severity: 'warning'; title: string; detail: string; fix: string; command?: string; link?: string; target: string }[] {
  const ids = new Set(applications.map((a) => a.clientId));
  const names = new Set(providers.map((p) => p.name));
  const out: ReturnType<typeof exchangePolicyFindings> = [];
  for (const app of applications) {
    if (!app.active || !app.grantTypes.includes(TOKEN_EXCHANGE_GRANT) || policies.some((p) => p.clientId === app.clientId)) continue;
    out.push({
      id: 'exchange_policy_missing',
      severity: 'warning',
      title: 'An application allowed token exchange has no exchange policy',
      detail: `Application ${appLabel(app)} is allowed the token exchange grant but has no exchange policy, so every exchange it asks for is refused (exchange.no_policy).`,
      fix: 'Give it a policy naming the tokens it may exchange and for what, or remove token_exchange from its grants.',
      command: policyCommand(app.clientId),
      link: appLink(app),
      target: app.clientId,
    });
  }
  for (const p of policies) {
    const app = applications.find((a) => a.clientId === p.clientId);
    if (app === undefined) {
      out.push({
        id: 'exchange_policy_orphaned',
        severity: 'warning',
        title: 'A token exchange policy belongs to no application',
        detail: `The exchange policy of ${p.clientId} names an application that no longer exists; it allows nothing and would apply to an application given that client id again.`,
        fix: 'Remove the policy.',
        command: commandLine(['exchange', 'policies', 'remove', p.clientId]),
        target: p.clientId,
      });
      continue;
    }
    const goneApps = p.spec.subjectApplications.filter((c) => c !== ANY && c !== SELF && !ids.has(c));
    const goneIdps = p.spec.identityProviders.filter((n) => n !== ANY && !names.has(n));
    if (goneApps.length + goneIdps.length > 0) {
      out.push({
        id: 'exchange_policy_dangling',
        severity: 'warning',
        title: 'A token exchange policy names what no longer exists',
        detail: `The exchange policy of ${appLabel(app)} names ${[...goneApps.map((c) => `the application ${c}`), ...goneIdps.map((n) => `the identity provider ${n}`)].join(', ')}, which no longer exist${goneApps.length + goneIdps.length === 1 ? 's' : ''}.`,
        fix: 'Set the policy\'s sources to those that exist.',
        command: commandLine(['exchange', 'policies', 'set', app.clientId, '--subject-apps', p.spec.subjectApplications.filter((c) => !goneApps.includes(c)).join(',') || 'none', '--idps', p.spec.identityProviders.filter((n) => !goneIdps.includes(n)).join(',') || 'none']),
        link: appLink(app),
        target: app.clientId,
      });
    }
  }
  return out;
}
