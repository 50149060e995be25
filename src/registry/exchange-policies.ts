import { recordChange } from '../audit/log.js';
import type { Clock } from '../core/clock.js';
import { didYouMean } from '../core/nearest.js';
import { canonicalResource } from '../domain/resource-uri.js';
import type { Application, ExchangePolicy, ExchangePolicySpec } from '../domain/model.js';
import type { Storage } from '../storage/types.js';
import { findApplication } from './applications.js';
import { RegistryError } from './errors.js';

/**
 * Token exchange policies (RFC 8693, grants/token-exchange.ts): per application, which subject
 * tokens it may exchange (tokens of which applications, of which identity providers, ID tokens),
 * for which resources and scopes, and whether it may impersonate (no actor token) or only
 * delegate. An application without a policy may not exchange at all.
 */

/** `*` alone: any; `self` in subject applications: the application's own tokens. */
export const EXCHANGE_ANY = '*';
export const EXCHANGE_SELF = 'self';
const MAX_LIST = 100;

type Deps = {
  storage: Pick<Storage, 'exchangePolicies' | 'applications' | 'identityProviders' | 'scopes'> & Partial<Pick<Storage, 'audit'>>;
  clock: Clock;
  actor?: string | undefined;
};

/** What `exchange policies set` takes: each field given replaces the policy's; absent keeps it (a new policy: nothing allowed, no impersonation). */
export interface ExchangePolicyInput {
  readonly subjectApplications?: readonly string[] | undefined;
  readonly identityProviders?: readonly string[] | undefined;
  readonly idTokens?: boolean | undefined;
  readonly resources?: readonly string[] | undefined;
  readonly scopes?: readonly string[] | undefined;
  readonly impersonation?: boolean | undefined;
}

/** A new policy's spec before any field is given: nothing may be exchanged. */
export const EMPTY_EXCHANGE_SPEC: ExchangePolicySpec = { subjectApplications: [], identityProviders: [], idTokens: false, resources: [], scopes: [], impersonation: false };

function list(field: string, values: readonly string[]): string[] {
  const unique = [...new Set(values.map((v) => v.trim()).filter((v) => v !== ''))];
  if (unique.length > MAX_LIST) throw new RegistryError('invalid_input', `${field}: at most ${MAX_LIST} values.`, field);
  if (unique.includes(EXCHANGE_ANY) && unique.length > 1) throw new RegistryError('invalid_input', `${field}: * (any) stands alone.`, field);
  for (const v of unique) {
    // Identity provider names may hold spaces; client ids, resources and scopes never do.
    if (v.length > 300 || /[\x00-\x1f\x7f,]/.test(v) || (field !== 'identityProviders' && /\s/.test(v))) throw new RegistryError('invalid_input', `${field}: ${JSON.stringify(v.slice(0, 80))} is not a valid value.`, field);
  }
  return unique;
}

async function checkSpec(deps: Deps, spec: ExchangePolicySpec): Promise<ExchangePolicySpec> {
  const subjectApplications = list('subjectApplications', spec.subjectApplications);
  const apps = await deps.storage.applications.list();
  for (const c of subjectApplications) {
    if (c === EXCHANGE_ANY || c === EXCHANGE_SELF) continue;
    if (!apps.some((a) => a.clientId === c)) {
      throw new RegistryError('application_not_found', `subjectApplications: no application has the client id ${JSON.stringify(c.slice(0, 80))}.${didYouMean(c, apps.map((a) => a.clientId))}`, 'subjectApplications');
    }
  }
  const identityProviders = list('identityProviders', spec.identityProviders);
  const idps = (await deps.storage.identityProviders.list()).map((p) => p.name);
  for (const n of identityProviders) {
    if (n !== EXCHANGE_ANY && !idps.includes(n)) {
      throw new RegistryError('identity_provider_not_found', `identityProviders: no identity provider is named ${JSON.stringify(n.slice(0, 80))}.${didYouMean(n, idps)} List them with \`latchkey idps list\`.`, 'identityProviders');
    }
  }
  const resources = list('resources', spec.resources).map((r) => {
    if (r === EXCHANGE_ANY) return r;
    const parsed = canonicalResource(r);
    if (!parsed.ok) throw new RegistryError('invalid_input', `resources: ${parsed.message}`, 'resources');
    return parsed.uri;
  });
  const scopes = list('scopes', spec.scopes);
  const known = (await deps.storage.scopes.list()).map((s) => s.name);
  for (const s of scopes) {
    if (s !== EXCHANGE_ANY && !known.includes(s)) throw new RegistryError('scope_not_found', `scopes: no auth scope named ${JSON.stringify(s.slice(0, 80))}.${didYouMean(s, known)}`, 'scopes');
  }
  return { subjectApplications, identityProviders, idTokens: spec.idTokens === true, resources, scopes, impersonation: spec.impersonation === true };
}

/** Creates the application's policy, or changes the fields given. Audited as exchange_policy.set. */
export async function setExchangePolicy(deps: Deps, appRef: string, input: ExchangePolicyInput): Promise<{ policy: ExchangePolicy; application: Application }> {
  const application = await findApplication(deps, appRef);
  const current = await deps.storage.exchangePolicies.byClientId(application.clientId);
  const base = current?.spec ?? EMPTY_EXCHANGE_SPEC;
  const spec = await checkSpec(deps, {
    subjectApplications: input.subjectApplications ?? base.subjectApplications,
    identityProviders: input.identityProviders ?? base.identityProviders,
    idTokens: input.idTokens ?? base.idTokens,
    resources: input.resources ?? base.resources,
    scopes: input.scopes ?? base.scopes,
    impersonation: input.impersonation ?? base.impersonation,
  });
  const now = deps.clock.now();
  const policy: ExchangePolicy = { clientId: application.clientId, spec, createdAt: current?.createdAt ?? now, updatedAt: now };
  await deps.storage.exchangePolicies.put(policy);
  await recordChange(deps, { action: 'exchange_policy.set', target: application.clientId, before: current ?? null, after: policy });
  return { policy, application };
}

/** The policy of an application (by client id or name; a policy whose application is gone, by its client id). */
export async function findExchangePolicy(deps: { storage: Pick<Storage, 'exchangePolicies' | 'applications'> }, appRef: string): Promise<ExchangePolicy> {
  const direct = await deps.storage.exchangePolicies.byClientId(appRef);
  if (direct !== undefined) return direct;
  let clientId = appRef;
  try {
    clientId = (await findApplication(deps, appRef)).clientId;
  } catch {
    // not an application: the policy is looked up by the reference as given
  }
  const policy = clientId === appRef ? undefined : await deps.storage.exchangePolicies.byClientId(clientId);
  if (policy !== undefined) return policy;
  throw new RegistryError('exchange_policy_not_found', `The application ${appRef.slice(0, 80)} has no token exchange policy. Add one with \`latchkey exchange policies set ${appRef.slice(0, 80)} --subject-apps <client-ids|*>\`.`, 'clientId');
}

/** Deletes an application's policy: it may no longer exchange tokens. Audited as exchange_policy.remove. */
export async function removeExchangePolicy(deps: Deps, appRef: string): Promise<ExchangePolicy> {
  const current = await findExchangePolicy(deps, appRef);
  await deps.storage.exchangePolicies.delete(current.clientId);
  await recordChange(deps, { action: 'exchange_policy.remove', target: current.clientId, before: current, after: null });
  return current;
}

/** A policy in words, one line per field (CLI `show`, the console). */
export function describeExchangePolicy(spec: ExchangePolicySpec): string[] {
  const words = (values: readonly string[]) => (values.length === 0 ? 'none' : values.includes(EXCHANGE_ANY) ? 'any' : values.join(', '));
  return [
    `Subject tokens of applications: ${words(spec.subjectApplications)}`,
    `Subject tokens of identity providers: ${words(spec.identityProviders)}`,
    `ID tokens as subject tokens: ${spec.idTokens ? 'yes' : 'no'}`,
    `Resources: ${words(spec.resources)}`,
    `Scopes: ${words(spec.scopes)}`,
    `Impersonation (no actor token): ${spec.impersonation ? 'allowed' : 'no: delegation only'}`,
  ];
}
