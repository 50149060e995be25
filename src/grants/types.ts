import type { AssertionDeps } from '../assertions/assertion.js';
import type { ClientContext } from '../client-auth/authenticate.js';
import type { AuthenticatedClient } from '../client-auth/types.js';
import type { Clock } from '../core/clock.js';
import type { NeutralRequest } from '../core/request.js';
import type { Word } from '../core/shell.js';
import type { Finding } from '../domain/finding.js';
import type { Application, User } from '../domain/model.js';
import type { OAuthError } from '../errors/oauth-error.js';
import type { ReasonCode } from '../errors/reasons.js';
import type { RegistryCache } from '../registry/cache.js';
import type { PasswordGuard } from '../registry/lockout.js';
import type { PropertyValues } from '../registry/properties.js';
import type { GrantType } from '../grants/grant-type.js';
import type { Storage } from '../storage/types.js';
import type { KnownResource } from '../registry/resources.js';
import type { ResourceLookup } from './resource.js';
import type { Mint, TokenResponseBody } from '../tokens/issuer.js';
import type { MintIdToken } from '../tokens/id-token.js';
import type { ExchangeDeps } from './token-exchange.js';

/** What a refusal record learns about the caller as the request goes. */
export interface RefusalContext {
  clientId?: string;
  applicationName?: string;
  userName?: string;
  /** The caller proved a credential (its refusal is always recorded: audit/refusals.ts). */
  authenticated?: boolean;
}

export interface GrantContext {
  readonly req: NeutralRequest;
  /** The request's parameters the grant declared, plus the common ones (COMMON_PARAMETERS); nothing else. */
  readonly params: Readonly<Record<string, string>>;
  readonly client: AuthenticatedClient;
  readonly properties: PropertyValues;
  readonly refusal: RefusalContext;
  /**
   * RFC 8707: the resources the token request names (`resource`, repeatable), already checked by
   * the token endpoint (canonical, known, allowed for the application); absent or empty: none.
   * A grant makes them the token's audience (grants/resource.ts).
   */
  readonly resources?: readonly KnownResource[];
  /**
   * RFC 9449: the JWK thumbprint of the request's DPoP proof key, already verified by the token
   * endpoint; absent: no proof. A grant passes it to issueTokens as `jkt` (and `refreshJkt` for a
   * public client's refresh token, dpopRefreshJkt).
   */
  readonly dpopJkt?: string;
}

/** What a grant's handler factory is given: the instance's registry cache, storage, clock, token minting and password check. */
export interface GrantDeps extends AssertionDeps {
  readonly cache: Pick<RegistryCache, 'userById' | 'peekUserById' | 'userByName' | 'applicationByClientId' | 'peekApplicationByClientId' | 'applicationById' | 'peekApplicationById' | 'properties' | 'peekProperties'> &
    /** Checks the change version at once after this instance revokes tokens (its cached token answers drop now, not at the next poll). */
    Partial<Pick<RegistryCache, 'check'>>;
  /** scopes: read when refusing a scope (scope.unknown); audit: a family revoked after a refresh token's reuse is recorded. */
  readonly storage: Pick<Storage, 'tokens' | 'codes' | 'replay' | 'scopes' | 'audit'> & Partial<Pick<Storage, 'sessions' | 'deviceCodes'>>;
  readonly clock: Clock;
  readonly mint: Mint;
  readonly passwords: Pick<PasswordGuard, 'check'>;
  /** Signs OpenID Connect ID tokens (tokens/id-token.ts); absent: no grant issues them. */
  readonly idTokens?: MintIdToken;
  /**
   * The values of the claims a `claims` request parameter's id_token member names (oidc/claims.ts
   * requestedIdTokenClaims, a layer above: passed in by app.ts); absent: none are added.
   */
  readonly idTokenClaims?: (user: User, names: readonly string[]) => Record<string, unknown>;
  /** The known resources (RFC 8707, registry/resources.ts): a code's or refresh token's resources are looked up in it. */
  readonly resources?: ResourceLookup;
  /** What the token exchange grant (RFC 8693, grants/token-exchange.ts) reads; absent: it refuses every request (exchange.no_policy). */
  readonly exchange?: ExchangeDeps;
}

/**
 * One grant type's request handling (RFC 6749 §4, §6). `validate` checks everything and writes
 * nothing; `issue` stores and returns the tokens (issueTokens, tokens/issue.ts).
 */
export interface GrantHandler<Plan = unknown> {
  /**
   * For a grant whose request itself identifies and proves the client, so that client
   * authentication is optional (RFC 7523 §3.1, the JWT bearer grant): called instead of client
   * authentication when the request carries no client credentials (a bare client_id does not
   * count). Throws an OAuthError refusal; fills `context` as far as it gets, for the refusal record.
   */
  identifyClient?(req: NeutralRequest, params: Readonly<Record<string, string>>, context: ClientContext): Promise<AuthenticatedClient>;
  validate(ctx: GrantContext): Promise<Plan>;
  issue(plan: Plan, ctx: GrantContext): Promise<TokenResponseBody>;
}

/** A token request parameter a grant reads (besides the common ones). */
export interface GrantParameter {
  readonly name: string;
  /** A request without it is refused by the token endpoint (invalid_request, request.missing_parameter). */
  readonly required: boolean;
  readonly description: string;
  /** The refusal's description when a required parameter is missing; default "The <name> parameter is required." */
  readonly missing?: string;
}

/**
 * Which clients may use the grant: confidential ones only (RFC 6749 §4.4), public ones too, or
 * the request identifies and proves the client itself (RFC 7523 §3.1: identifyClient).
 */
export type ClientAuthRule = 'confidential' | 'public_allowed' | 'identifies_client';

/** A problem as `latchkey doctor` (and the console's home page) reports it; its target is the application. */
export type GrantFinding = Omit<Finding, 'target'>;

/**
 * A configuration problem that makes the grant's token requests fail for one application: one
 * check, shown by `apps create/update/show` as a warning (text) and by `doctor` as a finding.
 */
export interface GrantWarning {
  /** The reason code the refused request records, or another stable id. */
  readonly id: string;
  /** The CLI's warning: what is wrong and why, then "Fix: <command>" where there is one; absent when only the doctor reports it. */
  readonly text?: string;
  /** The doctor's finding; absent when only the CLI warns (the doctor has an instance-wide finding for it, or none). */
  readonly finding?: GrantFinding;
}

/** What a grant's instance-wide checks read. */
export interface InstanceCheckInput {
  /** The active applications allowing the grant (never empty). */
  readonly applications: readonly Application[];
  readonly users: readonly User[];
  readonly properties: PropertyValues;
}

/** The fields of a new application a kind may need. */
export interface KindFields {
  readonly redirectUris: readonly string[];
  readonly jwks: unknown;
  readonly jwksUri: string | null;
}

/** What a grant's configuration checks read: one application, its application user, the instance's properties. */
export interface GrantCheckInput {
  readonly application: Application;
  /** The application user, when it has one that exists. */
  readonly appUser: User | undefined;
  readonly properties: PropertyValues;
  /** A user by name (a fix may suggest creating one). */
  readonly userNamed: (userName: string) => User | undefined;
}

/** How a person requests a token with the grant: curl words after the client authentication. */
export interface GrantExample {
  /**
   * The grant's parameters as curl words (`-d name=value`; grant_type comes before them), for this
   * application (undefined: a generic example); `user` is the user-name placeholder to use.
   */
  params(application: Application | undefined, placeholders: { readonly user: string }): Word[];
  /** The request works right after the application is created (no browser, no signed assertion): the CLI prints it as a next step. */
  readonly immediate: boolean;
}

/** What a grant is: the static facts every surface (registry, admin API, CLI, doctor, console) reads. */
export interface GrantDescriptor {
  /** The grant_type value (RFC 6749 §4.5: a registered name or an absolute URI). */
  readonly grantType: GrantType;
  /** A short name accepted wherever grant types are given (CLI, admin API), stored as grantType; e.g. jwt_bearer. */
  readonly alias?: string;
  /** For people: "Client credentials". */
  readonly label: string;
  /** One sentence: who uses it, for what. */
  readonly summary: string;
  /** The parameters its handler sees, besides the common ones (COMMON_PARAMETERS): anything else is dropped (RFC 6749 §3.2). */
  readonly parameters: readonly GrantParameter[];
  readonly clientAuth: ClientAuthRule;
  /**
   * The refusal when the instance has the grant switched off by a property, else undefined. The
   * token endpoint asks before it checks the parameters (and before validate).
   */
  switchedOff?(properties: PropertyValues): OAuthError | undefined;
  /** The reason recorded when a public client tries a confidential-only grant. */
  readonly publicClientReason?: ReasonCode;
  /**
   * The grant types an application "of this kind" gets (admin API and console presets); absent
   * when the grant is not a kind of application of its own (refresh_token).
   */
  readonly preset?: readonly GrantType[];
  /**
   * What an application of this kind needs at creation (the admin API refuses POST /applications
   * with this kind without it): the field and the refusal's message, or undefined when all is there.
   */
  kindNeeds?(fields: KindFields): { readonly field: string; readonly message: string } | undefined;
  /** Grant types always stored with it (the password grant comes with refresh tokens, as on the platform). */
  readonly implies?: readonly GrantType[];
  /** Whether its tokens may act on the admin API (never for a grant where the client names any user). */
  readonly adminApi: boolean;
  /** Configuration that will make this grant's token requests fail for the application (CLI warnings and doctor findings). */
  checks?(input: GrantCheckInput): GrantWarning[];
  /**
   * Instance-wide problems of the grant (doctor only): given the active applications allowing it,
   * the users and the properties, findings about the instance (e.g. the grant switched off), each with its target.
   */
  instanceChecks?(input: InstanceCheckInput): (GrantFinding & { readonly target: string })[];
  readonly example?: GrantExample;
}

/** A grant module: the descriptor plus the factory of its request handler. */
export interface GrantModule<Plan = unknown> extends GrantDescriptor {
  createHandler(deps: GrantDeps): GrantHandler<Plan>;
}

/** A grant as the token endpoint holds it: its descriptor and its handler. */
export interface Grant<Plan = unknown> extends GrantHandler<Plan> {
  readonly descriptor: GrantDescriptor;
  readonly grantType: GrantType;
}
