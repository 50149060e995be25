import type { ActivityCounter } from '../audit/activity.js';
import type { UsageCounter } from '../audit/usage.js';
import type { RefusalRecorder } from '../audit/refusals.js';
import type { Logger } from '../core/logger.js';
import { header, mediaType, type NeutralRequest, type NeutralResponse } from '../core/request.js';
import type { Facts } from '../domain/model.js';
import { OAuthError } from '../errors/oauth-error.js';
import { refusalReason, refusedOnStaleCache } from '../registry/fresh-cache.js';
import { ALL_ACCESS_SCOPE } from '../registry/scopes.js';
import { StorageError } from '../storage/types.js';
import { authenticateCaller, type ApiAuthDeps } from './authenticate.js';
import { REALM, type BearerValidator } from './bearer.js';
import type { CompiledResource } from './compile.js';
import { ApiError, type ApiRequest, type ApiResponse, type Caller, type HttpMethod } from './define.js';
import type { ApiRouter } from './router.js';
import type { RegistryCache } from '../registry/cache.js';
import type { RateLimits } from '../registry/rate-limits.js';
import { countAddress, withRateHeaders, type RateState } from '../endpoints/rate-limit.js';
import type { CompiledApi } from './compile.js';
import { countApiCall } from './rate-limit.js';
import { checkApiRules, type ApiRuleContext } from './rules.js';
import type { RuleBook } from '../registry/rule-book.js';
import type { WouldRefuseReporter } from '../audit/would-refuse.js';
import { apiResourceUri, apiResourceUris, protectedResourceMetadataUrl } from '../domain/resource-uri.js';
import { bearerChallenge } from './protected-resource-metadata.js';

const JSON_TYPE = 'application/json; charset=utf-8';
const ANONYMOUS: Caller = { authenticated: false, method: 'none', user: null, application: null, scopes: [] };
const ADMIN_ROLE = 'admin';

/** The platform's error shape: {"error":{"message","detail"},"status":"failure"}. */
export function failure(status: number, message: string, detail = '', headers: Record<string, string> = {}): NeutralResponse {
  return { status, headers: { 'content-type': JSON_TYPE, ...headers }, body: JSON.stringify({ error: { message, detail }, status: 'failure' }) };
}

class BadBody extends Error {}

function parseBody(req: NeutralRequest): unknown {
  if (req.body === undefined || req.body === '') return undefined;
  const type = mediaType(req.contentType);
  if (type === 'application/json' || type?.endsWith('+json') === true) {
    try {
      return JSON.parse(req.body) as unknown;
    } catch {
      throw new BadBody('The request body is not valid JSON.');
    }
  }
  if (type === 'application/x-www-form-urlencoded') {
    const fields: Record<string, string[]> = Object.create(null) as Record<string, string[]>;
    for (const [k, v] of new URLSearchParams(req.body)) (fields[k] ??= []).push(v);
    return fields;
  }
  return req.body;
}

function queryOf(req: NeutralRequest): Record<string, string[]> {
  const out: Record<string, string[]> = Object.create(null) as Record<string, string[]>;
  for (const [k, v] of req.query) (out[k] ??= []).push(v);
  return out;
}

/** Scope and role checks for an authenticated caller. */
/** The scope and role decision for an authenticated caller: the refusal, or undefined when admitted. Also used by `latchkey inspect`. */
/** True when a bearer caller has none of `scopes` (and not the all-access scope); Basic callers act as the user, scopes do not restrict them. */
export function lacksScope(caller: Caller, scopes: readonly string[]): boolean {
  return caller.method === 'bearer' && scopes.length > 0 && !caller.scopes.includes(ALL_ACCESS_SCOPE) && !scopes.some((s) => caller.scopes.includes(s));
}

/** True when the caller's user has none of `roles` (and is no admin). */
export function lacksRole(caller: Caller, roles: readonly string[]): boolean {
  const userRoles = caller.user?.roles ?? [];
  return roles.length > 0 && !userRoles.includes(ADMIN_ROLE) && !roles.some((r) => userRoles.includes(r));
}

export function authorizeCaller(caller: Caller, resource: { readonly security: Pick<CompiledResource['security'], 'scopes' | 'roles'> }): OAuthError | undefined {
  const { scopes, roles } = resource.security;
  if (lacksScope(caller, scopes)) {
    const needed = scopes.join(' ');
    return new OAuthError({
      error: 'insufficient_scope',
      status: 403,
      description: `The token needs one of the scopes: ${needed}.`,
      reason: 'api.scope_missing',
      headers: { 'www-authenticate': `Bearer realm="${REALM}", error="insufficient_scope", scope="${needed}", error_description="The token needs one of the scopes: ${needed}."` },
      // The scopes in effect; for a token of ours the provider adds the ones it was granted (BearerValidator.facts).
      facts: { requiredScopes: [...scopes], tokenScopes: [...caller.scopes], authMethod: caller.method },
    });
  }
  if (lacksRole(caller, roles)) {
    return new OAuthError({ error: 'access_denied', status: 403, description: `The caller needs one of the roles: ${roles.join(', ')}.`, reason: 'api.role_missing', facts: { requiredRoles: [...roles], authMethod: caller.method } });
  }
  return undefined;
}

/**
 * What only this request shows, for the administrator's explanation (built only when refusing): its
 * method and path and, for a scope or role refusal of a bearer token of ours, the token's handle,
 * the scopes it was granted and when it was issued.
 */
export async function refusalFacts(bearer: Pick<BearerValidator, 'facts'>, req: NeutralRequest, error: OAuthError): Promise<Facts> {
  const request: Facts = { method: req.method.slice(0, 10), path: req.path.slice(0, 200) };
  if ((error.reason !== 'api.scope_missing' && error.reason !== 'api.role_missing') || error.facts?.authMethod !== 'bearer') return request;
  const m = /^Bearer[ ]+(\S+)\s*$/i.exec(header(req, 'authorization') ?? '');
  return m === null ? request : { ...(await bearer.facts(m[1] as string).catch(() => ({}))), ...request };
}

/** The caller, if the resource's scope and role requirements admit them; else throws the refusal. */
function admitted(caller: Caller, resource: CompiledResource): Caller {
  const denied = authorizeCaller(caller, resource);
  if (denied !== undefined) throw denied;
  return caller;
}

function render(result: ApiResponse): NeutralResponse {
  const status = result.status ?? 200;
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(result.headers ?? {})) headers[k.toLowerCase()] = v;
  if (result.body === undefined || result.body === null) return { status, headers, body: '' };
  if (typeof result.body === 'string' || Buffer.isBuffer(result.body)) {
    headers['content-type'] ??= 'text/plain; charset=utf-8';
    return { status, headers, body: String(result.body) };
  }
  headers['content-type'] ??= JSON_TYPE;
  return { status, headers, body: JSON.stringify({ result: result.body }) };
}

export interface ApiProviderDeps extends ApiAuthDeps {
  readonly cache: ApiAuthDeps['cache'] & Pick<RegistryCache, 'check'>;
  readonly router: ApiRouter;
  readonly refusals: RefusalRecorder;
  readonly logger: Logger;
  /** Counts api.call / api.refused (audit/activity.ts): a synchronous add, nothing awaited. */
  readonly activity?: Pick<ActivityCounter, 'count'>;
  /** Rate limits per source address, per API and per user (registry/rate-limits.ts); none when omitted. */
  readonly rateLimits?: RateLimits;
  /** Counts each admitted call per application and the scope that admitted it (audit/usage.ts): a synchronous add, nothing awaited. */
  readonly usage?: Pick<UsageCounter, 'apiCall'>;
  /** The rules in force (registry/rule-book.ts): enforced API requirements refuse, reporting rules report; none when omitted. */
  readonly rules?: RuleBook;
  /** Where "would refuse" matches go (audit/would-refuse.ts). */
  readonly wouldRefuse?: Pick<WouldRefuseReporter, 'report'>;
  /** Told of every call answered, by API (undefined: no API matched) and status (the metrics). Synchronous. */
  readonly observe?: (api: CompiledApi | undefined, status: number, seconds: number) => void;
  /** The issuer: challenges name the API's protected resource metadata under it (RFC 9728 §5.1); absent or unknown, they do not. */
  readonly issuer?: () => string;
}

/** What a challenge on one API call names: where the called resource's metadata is, and the scopes the route needs. */
export interface ChallengeTarget {
  readonly resource: string;
  readonly metadataUrl: string;
  readonly scopes: readonly string[];
}

/**
 * The protected resource a call reached: the versioned identifier when the path named the version,
 * else the canonical one (domain/resource-uri.ts); undefined while no issuer is known.
 */
export function challengeTarget(issuer: (() => string) | undefined, api: CompiledApi, version: string | undefined, resource: CompiledResource): ChallengeTarget | undefined {
  let base: string;
  try {
    if (issuer === undefined) return undefined;
    base = issuer();
  } catch {
    return undefined;
  }
  const uri = version === undefined ? apiResourceUri(base, api) : (apiResourceUris(base, { ...api, versions: [version] })[1] as string);
  return { resource: uri, metadataUrl: protectedResourceMetadataUrl(uri), scopes: resource.security.scopes };
}

/**
 * The refusal's headers with its Bearer challenge naming the resource (RFC 9728 §5.1
 * resource_metadata) and the scopes (RFC 6750 §3 scope): on a 401, the route's scopes; on a 403
 * insufficient_scope, the ones that would do. The error and its description only when a token
 * was presented and refused (invalid_token, insufficient_scope). A Basic challenge stays as it was.
 */
export function challengeHeaders(error: OAuthError, target: ChallengeTarget | undefined): Readonly<Record<string, string>> {
  const current = error.headers['www-authenticate'];
  if (current === undefined || target === undefined || !current.startsWith('Bearer ')) return error.headers;
  const withError = error.error === 'invalid_token' || error.error === 'insufficient_scope';
  const required = error.facts?.requiredScopes;
  const scopes = error.error === 'insufficient_scope' && Array.isArray(required) ? required.map(String) : target.scopes;
  const bearer = bearerChallenge({ realm: REALM, error: withError ? error.error : undefined, description: withError ? error.description : undefined, resourceMetadata: target.metadataUrl, scopes });
  const basic = /(?:^|, )Basic realm=/.test(current) ? `, Basic realm="${REALM}"` : '';
  return { ...error.headers, 'www-authenticate': `${bearer}${basic}` };
}

/** Serves /api/...: routing, authentication, scope and role checks, the handler, the response. */
export function createApiProvider(deps: ApiProviderDeps) {
  const ruleFacts = (error: OAuthError, req: NeutralRequest) => refusalFacts(deps.bearer, req, error);
  const ruleContext: ApiRuleContext = {
    reporter: deps.wouldRefuse,
    authorize: authorizeCaller,
    admits: (caller, scopes, roles) => !lacksScope(caller, scopes) && !lacksRole(caller, roles),
    facts: ruleFacts,
  };
  async function refused(req: NeutralRequest, endpoint: string, error: OAuthError, context: { userName?: string; clientId?: string; applicationName?: string; authenticated?: boolean }, target?: ChallengeTarget): Promise<NeutralResponse> {
    deps.activity?.count('api.refused');
    const facts = await refusalFacts(deps.bearer, req, error);
    await deps.refusals.record({ requestId: req.requestId, endpoint, remoteAddress: req.remoteAddress, error: error.withFacts(facts), ...context, ...error.subject });
    // The reason code is safe to show (it describes the caller's own credential); the request id
    // lets an administrator run `latchkey explain` on it.
    return failure(error.status, error.description, `reason ${error.reason}; request id ${req.requestId}`, challengeHeaders(error, target));
  }

  /** Each API's resource identifiers (canonical and versioned), once the issuer is known. */
  const identifiers = new WeakMap<CompiledApi, readonly string[]>();
  function resourceUris(api: CompiledApi): readonly string[] {
    let uris = identifiers.get(api);
    if (uris !== undefined) return uris;
    try {
      if (deps.issuer === undefined) return [];
      uris = apiResourceUris(deps.issuer(), api);
    } catch {
      return [];
    }
    identifiers.set(api, uris);
    return uris;
  }

  async function serve(req: NeutralRequest, match: ReturnType<ApiRouter['match']>): Promise<NeutralResponse> {
      if (match.kind === 'not_found') return failure(404, 'Requested URI does not represent any resource', req.path.slice(0, 200));
      if (match.kind === 'bad_path') return failure(400, 'The request path is not valid', 'A path segment has invalid percent-encoding.');
      if (match.kind === 'method_not_allowed') return failure(405, 'Method not supported for this resource', `Allowed: ${match.allowed.join(', ')}`, { allow: match.allowed.join(', ') });
      const { api, resource } = match;
      const rate: RateState = { counted: 0, verdict: undefined };
      deps.activity?.count('api.call');
      const endpoint = `api ${api.namespace}/${api.id}`;
      const context: { userName?: string; clientId?: string; applicationName?: string; authenticated?: boolean } = {};
      try {
        const byAddress = countAddress(deps.rateLimits, rate, 'api', req);
        if (byAddress !== undefined) await byAddress;
        let body: unknown;
        try {
          body = parseBody(req);
        } catch (error) {
          if (error instanceof BadBody) return failure(400, error.message);
          throw error;
        }
        let caller = ANONYMOUS;
        if (resource.security.requiresAuthentication) {
          // RFC 8707: a token issued for resources must name this API (any of its identifiers) before its scopes count.
          const meant = (c: Caller): Caller => {
            deps.bearer.requireAudience(c, resourceUris(api));
            return c;
          };
          const admit = async (): Promise<Caller> => {
            const found = authenticateCaller(deps, req, body, resource.security, context);
            return admitted(meant(found instanceof Promise ? await found : found), resource);
          };
          try {
            // A token seen before is admitted without a promise; anything else takes admit().
            const found = authenticateCaller(deps, req, body, resource.security, context);
            caller = found instanceof Promise ? admitted(meant(await found), resource) : admitted(meant(found), resource);
          } catch (error) {
            // Refusals on cached state re-check it first: a scope added or a user activated a
            // moment ago must not refuse this call. Successes keep using the cache.
            if (!(await refusedOnStaleCache(deps.cache, refusalReason(error)))) throw error;
            caller = await admit();
          }
        }
        const rules = deps.rules;
        if (rules !== undefined && caller.authenticated) {
          const book = rules.peek() ?? (await rules.load());
          if (book.api) checkApiRules(ruleContext, book, req, endpoint, api, resource, caller);
        }
        const counting = countApiCall(deps.rateLimits, rate, api, caller);
        if (counting !== undefined) await counting;
        if (caller.application !== null) deps.usage?.apiCall(caller.application.clientId, resource.security.scopes, caller.scopes);
        const apiRequest: ApiRequest = { method: req.method as HttpMethod, path: req.path, params: match.params, query: queryOf(req), headers: req.headers, body, caller, requestId: req.requestId };
        const answered = render(await resource.handler(apiRequest));
        return rate.verdict === undefined ? answered : { ...answered, headers: withRateHeaders(answered.headers, rate) };
      } catch (error) {
        if (error instanceof OAuthError) return refused(req, endpoint, error, context, challengeTarget(deps.issuer, api, match.versioned ? match.version : undefined, resource));
        if (error instanceof ApiError) return failure(error.status >= 400 && error.status <= 599 ? error.status : 500, error.message, error.detail);
        if (error instanceof StorageError && error.code === 'unavailable') return failure(503, 'Service temporarily unavailable', 'Retry shortly.', { 'retry-after': '1' });
        deps.logger.error({ requestId: req.requestId, api: `${api.namespace}/${api.id}`, err: error }, 'API handler failed');
        return failure(500, 'Internal error in the API handler', `Quote request id ${req.requestId}.`);
      }
  }

  return {
    async handle(req: NeutralRequest): Promise<NeutralResponse> {
      const match = deps.router.match(req.method, req.path);
      const observe = deps.observe;
      if (observe === undefined) return serve(req, match);
      const started = performance.now();
      const response = await serve(req, match);
      observe(match.kind === 'found' || match.kind === 'method_not_allowed' ? match.api : undefined, response.status, (performance.now() - started) / 1000);
      return response;
    },
  };
}
