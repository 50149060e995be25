/**
 * Fact resolvers and live fixes of the browser flow, client assertions and identity providers
 * (authorize, pkce, authorization_code, assertion and idp reasons). What only the refusing code
 * knew is recorded with the refusal (the JWT's claims as presented, the redirect URI sent, a code's
 * times); these find what the registry knows now, and write the fix from the facts and the live
 * configuration (the application's redirect URIs and keys, the provider's settings), never a stale
 * list. Administrator only: a typo suggestion here never reaches a caller.
 */
import { commandLine, placeholder, type Word } from '../../core/shell.js';
import type { Application, Facts, FactValue } from '../../domain/model.js';
import type { FactName } from '../../errors/facts.js';
import type { ReasonCode } from '../../errors/reasons.js';
import type { ExplainContext, FactResolver, LiveFix } from '../explain.js';

const text = (v: FactValue | undefined): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);
const list = (v: FactValue | undefined): string[] => (Array.isArray(v) ? [...v] : typeof v === 'string' && v !== '' ? [v] : []);
/** A value inside a sentence: quoted when it has spaces, so where it ends is clear. */
const shown = (v: string): string => (/\s/.test(v) || v === '' ? JSON.stringify(v) : v);

/** `latchkey apps update <client-id> --redirect-uri …` for every URI (repeated flags: a URI may hold a comma; the list replaces the current one). */
function redirectUrisCommand(app: Application, uris: readonly string[]): string {
  const words: Word[] = ['apps', 'update', app.clientId];
  for (const uri of uris) words.push('--redirect-uri', uri);
  return commandLine(words);
}

async function provider(ctx: ExplainContext) {
  const name = text(await ctx.fact('identityProvider'));
  return name === undefined ? undefined : ctx.deps.storage.identityProviders.byName(name);
}

export const BROWSER_SIDE_RESOLVERS: Partial<Record<FactName, FactResolver>> = {
  /** The applications whose registered redirect URIs include the one sent (a request without client_id most likely came from one). */
  redirectUriRegisteredFor: async (ctx) => {
    const sent = text(await ctx.fact('requestedRedirectUri'));
    if (sent === undefined) return [];
    const apps = await ctx.deps.storage.applications.list();
    return apps.filter((a) => a.redirectUris.includes(sent)).map((a) => a.clientId);
  },
  /** The user whose other field has the user claim's value: then the provider's user field is what is wrong. */
  userByOtherField: async (ctx) => {
    const value = text(await ctx.fact('userClaimValue'));
    const field = text(await ctx.fact('userField'));
    if (value === undefined || field === undefined) return undefined;
    const users = ctx.deps.storage.users;
    const found = field === 'id' ? await users.byName(value) : await users.byId(value).catch(() => undefined);
    return found === undefined ? null : found.userName;
  },
};

async function redirectMismatchFix(ctx: ExplainContext, facts: Facts): Promise<string | undefined> {
  const app = await ctx.application();
  const sent = text(facts.requestedRedirectUri);
  if (app === undefined || sent === undefined) return undefined;
  const nearest = text(facts.nearestRedirectUri);
  const send =
    nearest !== undefined
      ? `Send the registered redirect URI ${shown(nearest)}, the nearest to the one sent, character for character.`
      : app.redirectUris.length > 0
        ? `Send one of the registered redirect URIs, character for character: ${app.redirectUris.map(shown).join(', ')}.`
        : `The application ${app.name} has no redirect URI registered.`;
  return `${send} If ${shown(sent)} is the application's own, register it (the list replaces the current one): ${redirectUrisCommand(app, [...app.redirectUris, sent])}`;
}

async function redirectMissingFix(ctx: ExplainContext): Promise<string | undefined> {
  const app = await ctx.application();
  if (app === undefined) return undefined;
  if (app.redirectUris.length === 0) return `Register the application's redirect URI: ${commandLine(['apps', 'update', app.clientId, '--redirect-uri', placeholder('uri')])}`;
  return `Send redirect_uri in the authorization request, one of (character for character): ${app.redirectUris.map(shown).join(', ')}.`;
}

function kidText(facts: Facts, name: 'registeredKids' | 'publishedKids'): string {
  const kids = list(facts[name]);
  return kids.length === 0 ? 'no key ids' : `key ids ${kids.join(', ')}`;
}

const USER_CLAIM_CANDIDATES = ['preferred_username', 'email', 'upn', 'username', 'unique_name', 'oid', 'sub'];

export const BROWSER_SIDE_FIXES: Partial<Record<ReasonCode, LiveFix>> = {
  'authorize.client_id_missing': (_ctx, facts) => {
    const ids = list(facts.redirectUriRegisteredFor);
    if (ids.length === 0) return undefined;
    return `Send client_id in the authorization request: the redirect URI sent is registered for ${ids.length === 1 ? 'the application' : 'the applications'} ${ids.join(', ')} (\`latchkey apps show <client-id>\`).`;
  },
  'authorize.redirect_uri_mismatch': redirectMismatchFix,
  'authorize.redirect_uri_missing': redirectMissingFix,
  'authorization_code.redirect_uri_mismatch': async (ctx, facts) => {
    const issuedFor = text(facts.codeRedirectUri);
    if (issuedFor !== undefined) return `Send redirect_uri=${shown(issuedFor)} in the token request: the one the authorization request had, character for character.`;
    const app = await ctx.application();
    if (app === undefined) return undefined;
    return `The authorization request had no redirect_uri: send none in the token request, or one of the registered redirect URIs: ${app.redirectUris.map(shown).join(', ') || '(none registered)'}.`;
  },
  'assertion.wrong_audience': (_ctx, facts) => {
    const [issuer, tokenEndpoint] = list(facts.expectedAudience);
    if (issuer === undefined) return undefined;
    const sent = facts.jwtAud;
    const was = Array.isArray(sent) ? `a list (${sent.join(', ')})` : text(sent) === undefined ? 'absent' : shown(String(sent));
    return `Set aud to ${shown(issuer)}, this server's issuer identifier, as one string${tokenEndpoint === undefined ? '' : ` (${shown(tokenEndpoint)} is accepted too)`}; it was ${was}.`;
  },
  'assertion.unknown_issuer': (_ctx, facts) => {
    const nearest = text(facts.nearestClientId);
    const iss = text(facts.jwtIss);
    if (nearest === undefined || iss === undefined) return undefined;
    return `Set iss to the client id of the application whose key signs the assertion: ${shown(iss)} is no application's; the nearest client id is ${nearest} (\`latchkey apps show ${nearest}\`).`;
  },
  'assertion.no_keys': async (ctx) => {
    const app = await ctx.application();
    if (app === undefined) return undefined;
    return `Register the application's public key: ${commandLine(['apps', 'update', app.clientId, '--jwks', placeholder('file')])}, or where it publishes its keys: ${commandLine(['apps', 'update', app.clientId, '--jwks-uri', placeholder('url')])}`;
  },
  'assertion.unknown_key': async (ctx, facts) => {
    const app = await ctx.application();
    if (app === undefined) return undefined;
    const kid = text(facts.jwtKid);
    const head = `The assertion's kid is ${kid === undefined ? 'absent' : shown(kid)}; the application's keys have ${kidText(facts, 'registeredKids')}.`;
    if (facts.keySource === 'jwks_uri') return `${head} Publish the new public key at ${text(facts.appJwksUri) ?? 'its JWKS URI'} (refetched at most once per 30 s for an unknown kid), or send the kid of a published key.`;
    return `${head} Register the new public key with ${commandLine(['apps', 'update', app.clientId, '--jwks', placeholder('file')])}, or send the kid of a registered key.`;
  },
  'assertion.unknown_user': (_ctx, facts) => {
    const sub = text(facts.jwtSub);
    if (sub === undefined) return undefined;
    return `Set sub to the user name of an existing user, or create this one: ${commandLine(['users', 'create', sub])}`;
  },
  'idp.wrong_audience': async (ctx, facts) => {
    const idp = await provider(ctx);
    const sent = list(facts.jwtAud)[0];
    if (idp === undefined) return undefined;
    const change = sent === undefined ? '' : `; or, if ${shown(sent)} is what the provider issues for this server, ${commandLine(['idps', 'update', idp.name, '--audience', sent])}`;
    return `Request the token for the audience ${shown(idp.audience)} at the identity provider${change}.`;
  },
  'idp.claim_missing': async (ctx, facts) => {
    const idp = await provider(ctx);
    if (idp === undefined || text(facts.claim) !== idp.userClaim) return undefined;
    const present = list(facts.jwtClaimNames);
    const candidate = USER_CLAIM_CANDIDATES.find((c) => c !== idp.userClaim && present.includes(c));
    const other = candidate === undefined ? commandLine(['idps', 'update', idp.name, '--user-claim', placeholder('claim')]) : commandLine(['idps', 'update', idp.name, '--user-claim', candidate]);
    return `Have the identity provider include the claim ${shown(idp.userClaim)} (the token has ${present.join(', ') || 'no claims'}), or name the user by another claim: ${other}`;
  },
  'idp.unknown_user': async (ctx, facts) => {
    const idp = await provider(ctx);
    const value = text(facts.userClaimValue);
    if (idp === undefined || value === undefined) return undefined;
    const other = text(facts.userByOtherField);
    if (other !== undefined) {
      const field = idp.userField === 'id' ? 'user_name' : 'id';
      return `The claim ${idp.userClaim} holds the ${field === 'id' ? 'id' : 'user name'} of user ${other}: match it against that field with ${commandLine(['idps', 'update', idp.name, '--user-field', field])}`;
    }
    if (idp.userField === 'id') return `No user has the id ${shown(value)}: map the claim to user names with ${commandLine(['idps', 'update', idp.name, '--user-field', 'user_name'])}, or another claim with --user-claim.`;
    return `Create the user: ${commandLine(['users', 'create', value])}, or map another claim: ${commandLine(['idps', 'update', idp.name, '--user-claim', placeholder('claim')])}`;
  },
  'idp.unknown_key': async (ctx, facts) => {
    const idp = await provider(ctx);
    if (idp === undefined) return undefined;
    const kid = text(facts.jwtKid);
    return `The token's kid is ${kid === undefined ? 'absent' : shown(kid)}; the provider's JWKS${text(facts.idpJwksUri) === undefined ? '' : ` (${text(facts.idpJwksUri)})`} served ${kidText(facts, 'publishedKids')}. Check that the token comes from ${idp.name} and that its JWKS publishes the signing key; after a key rotation, retry after 30 s.`;
  },
};
