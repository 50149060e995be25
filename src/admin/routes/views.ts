import { isReasonCode, reasonInfo } from '../../errors/reasons.js';
import { PROPERTY_DEFINITIONS, type PropertyDefinition } from '../../registry/properties.js';
import { RULE_PROPERTIES } from '../../registry/rules.js';
import type { PropertyView } from '../../registry/settings.js';
import type { Application, IdentityProvider, Refusal, TokenRecord, User } from '../../domain/model.js';
import { applicationView as sharedApplicationView, type ApplicationView } from '../../registry/application-view.js';
import type { Storage } from '../../storage/types.js';
import { handleIn, tokenHandle } from '../../core/crypto.js';
import { settingLink } from '../links.js';

/** Views: records as the API shows them (no hashes, ever). */

export type Names = { apps: Map<string, Application>; users: Map<string, User> };

export async function names(storage: Storage): Promise<Names> {
  const [apps, users] = await Promise.all([storage.applications.list(), storage.users.list()]);
  return { apps: new Map(apps.map((a) => [a.id, a])), users: new Map(users.map((u) => [u.id, u])) };
}

/** The application view (registry/application-view.ts), its application user named from `users`. */
export function applicationView(app: Application, users?: Map<string, User>): ApplicationView {
  return sharedApplicationView(app, app.appUserId === null ? null : (users?.get(app.appUserId)?.userName ?? null));
}

export function userView(user: User) {
  const { passwordHash, ...rest } = user;
  return { ...rest, hasPassword: passwordHash !== null };
}

function tokenFormatOf(key: string): 'opaque' | 'jwt' {
  const rest = key.slice(key.indexOf('.') + 1);
  return rest.length === 43 ? 'opaque' : 'jwt';
}

function tokenStatus(t: TokenRecord, now: number): string {
  return t.status === 'active' && t.expiresAt <= now ? 'expired' : t.status;
}

export function tokenView(t: TokenRecord, n: Names, now: number) {
  const app = n.apps.get(t.applicationId);
  const handle = tokenHandle(t.hash);
  return {
    /** The token's handle (core/crypto.ts tokenHandle), as every surface shows it; `handle` says so by name. */
    id: handle,
    handle,
    kind: t.kind,
    format: tokenFormatOf(t.hash),
    application: app?.clientId ?? null,
    applicationName: app?.name ?? null,
    user: t.userId === null ? null : (n.users.get(t.userId)?.userName ?? null),
    scopes: [...t.scopes],
    grantType: t.grantType,
    issuedAt: t.issuedAt,
    expiresAt: t.expiresAt,
    status: tokenStatus(t, now),
    revokedAt: t.revokedAt,
  };
}

export function refusalView(r: Refusal) {
  const info = isReasonCode(r.reason) ? reasonInfo(r.reason) : undefined;
  return {
    ...r,
    explanation: info?.explanation ?? null,
    fix: info?.fix ?? null,
    setting: info?.setting ?? null,
    link: settingLink(info?.setting, { clientId: r.clientId, userName: r.userName }) ?? null,
    /** The handle of the token the refusal was about, when one was presented and identified (its hint names it). */
    token: handleIn(r.hint) ?? null,
  };
}

/**
 * A property with its range (integer properties), its console link and, for an instance switch
 * that refuses requests, what a report-only rule of it takes (`reportFirst`: the value that
 * refuses, and what it refuses; null for the other properties).
 */
export function propertyView(p: PropertyView) {
  const def: PropertyDefinition = PROPERTY_DEFINITIONS[p.name];
  const rule = RULE_PROPERTIES[p.name];
  return {
    ...p,
    ...(def.min === undefined ? {} : { min: def.min }),
    ...(def.max === undefined ? {} : { max: def.max }),
    ...(def.values === undefined ? {} : { values: [...def.values] }),
    link: settingLink(p.name) ?? null,
    reportFirst: rule === undefined ? null : { value: rule.refusing, refuses: rule.refuses },
  };
}

export function idpView(idp: IdentityProvider) {
  return idp;
}

/** A stored JSON text as a value (the text itself when it is not JSON). */
export function parseJson(text: string | null): unknown {
  if (text === null) return null;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

/** Sorts records by their name (in place, as the handlers did). */
export function byName<T extends { name: string }>(list: T[]): T[] {
  return list.sort((a, b) => a.name.localeCompare(b.name));
}
