import type { ClaimsRequest } from '../../domain/model.js';
import { invalidRequest } from '../../errors/errors.js';
import { OAuthError } from '../../errors/oauth-error.js';
import { factString } from '../../errors/fact-values.js';
import { parseClaimsRequest } from '../../oidc/claims.js';
import { IdTokenHintRejected, verifyIdTokenHint } from '../../tokens/id-token-hint.js';
import type { AuthorizeKit } from './context.js';

/**
 * The OpenID Connect parameters of an authorization request (Core 1.0 §3.1.2.1, §5.5; OAuth 2.0
 * Form Post Response Mode): read and checked once the client and redirect URI are known good, so
 * their refusals go back to the client. What they change in the flow is request.ts's.
 */

/** The prompt values understood (Core 1.0 §3.1.2.1). */
export const PROMPT_VALUES = ['none', 'login', 'consent', 'select_account'] as const;
export type PromptValue = (typeof PROMPT_VALUES)[number];

/** The response modes supported for response_type=code (fragment is not: it is for the implicit flow). */
export const RESPONSE_MODES = ['query', 'form_post'] as const;
export type ResponseMode = (typeof RESPONSE_MODES)[number];

/** The longest login_hint used: the sign-in page's user name field holds 100 characters. */
export const MAX_LOGIN_HINT_LENGTH = 100;
/** The longest ui_locales read, and the most tags. */
export const MAX_UI_LOCALES_LENGTH = 256;
const MAX_UI_LOCALES = 16;
/** A BCP 47 tag, loosely (language, then subtags of 1 to 8 letters or digits). */
const LANGUAGE_TAG = /^[A-Za-z]{1,8}(?:-[A-Za-z0-9]{1,8})*$/;
/** The languages the pages are written in. */
export const PAGE_LANGUAGES = ['en'] as const;

export interface OidcParams {
  readonly prompt: ReadonlySet<PromptValue>;
  /** max_age in seconds, or undefined. */
  readonly maxAge: number | undefined;
  /** A printable login_hint of at most MAX_LOGIN_HINT_LENGTH characters (longer ones are not used), or undefined. */
  readonly loginHint: string | undefined;
  /** ui_locales that look like language tags (the pages are English: see pageLanguage). */
  readonly uiLocales: readonly string[];
  readonly claims: ClaimsRequest | null;
}

/** response_mode (the redirect URI is good: an unsupported one is answered there, in the query). */
export function checkResponseMode(value: string | undefined): ResponseMode {
  if (value === undefined || value === 'query') return 'query';
  if (value === 'form_post') return 'form_post';
  throw invalidRequest
    .withReason('authorize.response_mode_unsupported')
    .withDescription('Only response_mode=query and response_mode=form_post are supported.')
    .withHint('Send response_mode=query (the default for response_type=code) or response_mode=form_post, or leave it out.')
    .withFacts({ requestedResponseMode: factString(value, 100), supportedResponseModes: [...RESPONSE_MODES] });
}

function checkPrompt(value: string | undefined): ReadonlySet<PromptValue> {
  if (value === undefined) return new Set();
  const values = value.split(' ').filter((v) => v !== '');
  const refuse = (description: string) =>
    invalidRequest.withReason('authorize.prompt_invalid').withDescription(description).withHint('Send prompt=none alone, or any of login, consent, select_account separated by spaces.').withFacts({ requestedPrompt: factString(value, 100), supportedPrompts: [...PROMPT_VALUES] });
  const unknown = values.find((v) => !(PROMPT_VALUES as readonly string[]).includes(v));
  if (unknown !== undefined) {
    const name = /^[A-Za-z0-9_-]{1,32}$/.test(unknown) ? unknown : 'a value';
    throw refuse(`The prompt parameter has ${name}, which is not one of none, login, consent, select_account.`);
  }
  const set = new Set(values as PromptValue[]);
  // Core 1.0 §3.1.2.1: "If this parameter contains none with any other value, an error is returned."
  if (set.has('none') && set.size > 1) throw refuse('prompt=none cannot be combined with another prompt value.');
  return set;
}

function checkMaxAge(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!/^[0-9]{1,10}$/.test(value)) {
    throw invalidRequest
      .withReason('authorize.max_age_malformed')
      .withDescription('The max_age parameter must be a non-negative whole number of seconds.')
      .withHint('Send max_age as digits only, for example max_age=3600, or leave it out.')
      .withFacts({ requestedMaxAge: factString(value, 50) });
  }
  return Number(value);
}

function checkLoginHint(value: string | undefined): string | undefined {
  // A hint: one the page cannot hold, or with control characters, is not used (never an error).
  if (value === undefined || value.length > MAX_LOGIN_HINT_LENGTH || !/^[^\p{Cc}]+$/u.test(value)) return undefined;
  return value;
}

/** ui_locales (Core 1.0 §3.1.2.1): space-separated BCP 47 tags; what does not look like one is ignored, never refused. */
export function readUiLocales(value: string | undefined): string[] {
  if (value === undefined) return [];
  return value
    .slice(0, MAX_UI_LOCALES_LENGTH)
    .split(' ')
    .filter((t) => LANGUAGE_TAG.test(t))
    .slice(0, MAX_UI_LOCALES);
}

/** The language of the pages for the ui_locales asked: the first one supported, and English (the only one) otherwise. */
export function pageLanguage(uiLocales: readonly string[]): string {
  for (const tag of uiLocales) {
    const language = tag.split('-')[0]?.toLowerCase();
    if ((PAGE_LANGUAGES as readonly string[]).includes(language ?? '')) return language as string;
  }
  return PAGE_LANGUAGES[0];
}

function checkClaims(value: string | undefined): ClaimsRequest | null {
  if (value === undefined) return null;
  const parsed = parseClaimsRequest(value);
  if (parsed instanceof Error) {
    throw invalidRequest
      .withReason('authorize.claims_malformed')
      .withDescription(parsed.message)
      .withHint('Send claims as a JSON object such as {"userinfo":{"email":null},"id_token":{"name":{"essential":true}}}, URL-encoded.')
      .withFacts({ claimsParameterLength: value.length });
  }
  return parsed.userinfo.length === 0 && parsed.idToken.length === 0 ? null : parsed;
}

/**
 * request and request_uri (Core 1.0 §6): not supported (discovery says so); §3.1.2.6 has an error
 * for each, so a client that sends one learns it instead of having its request object ignored.
 */
function checkRequestObject(params: Record<string, string>): void {
  if (params.request !== undefined) {
    throw new OAuthError({
      error: 'request_not_supported',
      status: 400,
      reason: 'authorize.request_object_unsupported',
      description: 'The request parameter (a request object) is not supported: send the parameters in the query.',
      hint: 'Send the authorization parameters as plain query (or form) parameters instead of in a request object.',
      facts: { requestObjectLength: params.request.length },
    });
  }
  if (params.request_uri !== undefined) {
    throw new OAuthError({
      error: 'request_uri_not_supported',
      status: 400,
      reason: 'authorize.request_uri_unsupported',
      description: 'The request_uri parameter is not supported: send the parameters in the query.',
      hint: 'Send the authorization parameters as plain query (or form) parameters instead of by reference.',
      facts: { requestObjectLength: params.request_uri.length },
    });
  }
}

/** The synchronous checks: request objects, prompt, max_age, login_hint, ui_locales, claims. */
export function checkOidcParams(params: Record<string, string>): OidcParams {
  checkRequestObject(params);
  return {
    prompt: checkPrompt(params.prompt),
    maxAge: checkMaxAge(params.max_age),
    loginHint: checkLoginHint(params.login_hint),
    uiLocales: readUiLocales(params.ui_locales),
    claims: checkClaims(params.claims),
  };
}

/**
 * id_token_hint (Core 1.0 §3.1.2.1): an ID token of this instance (tokens/id-token-hint.ts, expired
 * accepted); returns the user it names (sub). Anything else is invalid_request.
 */
export async function checkIdTokenHint(kit: AuthorizeKit, value: string | undefined): Promise<string | undefined> {
  if (value === undefined) return undefined;
  const refuse = (problem: string, description: string) =>
    invalidRequest
      .withReason('authorize.id_token_hint_invalid')
      .withDescription(description)
      .withHint('Send as id_token_hint an ID token this server issued (its key still published: latchkey keys list), or leave it out.')
      .withFacts({ idTokenHintProblem: problem });
  const keyring = kit.deps.keyring;
  if (keyring === undefined) throw refuse('unverifiable', 'The id_token_hint cannot be verified on this server.');
  try {
    const hint = await verifyIdTokenHint({ keyring, issuer: kit.deps.issuer }, value, kit.deps.clock.now());
    return hint.sub;
  } catch (error) {
    if (error instanceof IdTokenHintRejected) throw refuse(error.problem, error.message);
    throw error;
  }
}
