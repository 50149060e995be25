import { parseApiTarget } from '../registry/rules.js';
import type { CompiledApi } from '../resource-server/compile.js';
import type { DocumentApi, RegistryDocument } from './document.js';
import { apiEntries, type RegistrySnapshot } from './snapshot.js';

/**
 * Hosted APIs are code: apply never changes them. What it can say is whether the registry it
 * leaves behind serves them: every scope and role an API route requires should exist (a caller
 * cannot be given what does not exist, so the route refuses everyone but all-access tokens), and
 * the APIs the document lists (from the instance it was exported from) should be the ones this
 * instance serves, with the same security.
 */

const apiName = (api: { namespace: string; id: string }): string => `${api.namespace}/${api.id}`;

function missing(apis: readonly DocumentApi[], where: (i: number) => string, after: RegistrySnapshot): string[] {
  const scopes = new Set([...after.scopes.keys(), ...after.builtInScopes]);
  const roles = new Set([...after.roles.keys(), ...after.builtInRoles]);
  return apis.flatMap((api, i) => {
    const needScopes = [...new Set(api.routes.flatMap((r) => r.scopes))].filter((s) => !scopes.has(s));
    const needRoles = [...new Set(api.routes.flatMap((r) => r.roles))].filter((r) => !roles.has(r));
    return [
      ...needScopes.map((s) => `${where(i)} (${apiName(api)}) requires the scope ${s}, which this instance will not have: create it (scopes) or callers are refused`),
      ...needRoles.map((r) => `${where(i)} (${apiName(api)}) requires the role ${r}, which no user will carry`),
    ];
  });
}

function compare(listed: readonly DocumentApi[], served: readonly DocumentApi[]): string[] {
  const warnings: string[] = [];
  const servedByName = new Map(served.map((a) => [apiName(a), a]));
  listed.forEach((api, i) => {
    const here = servedByName.get(apiName(api));
    if (here === undefined) {
      warnings.push(`apis[${i}]: this instance does not serve the API ${apiName(api)} (deploy its module in the APIs folder)`);
      return;
    }
    const routes = new Map(here.routes.map((r) => [`${r.method} ${r.path}`, r]));
    for (const route of api.routes) {
      const other = routes.get(`${route.method} ${route.path}`);
      if (other === undefined) warnings.push(`apis[${i}]: this instance's ${apiName(api)} has no route ${route.method} ${route.path}`);
      else if (JSON.stringify(other) !== JSON.stringify(route)) warnings.push(`apis[${i}]: ${apiName(api)} ${route.method} ${route.path} has other security here (${JSON.stringify(other)})`);
    }
  });
  const names = new Set(listed.map(apiName));
  for (const api of served) if (!names.has(apiName(api))) warnings.push(`apis: this instance serves ${apiName(api)}, which the document does not list`);
  return warnings;
}

export function apiWarnings(doc: RegistryDocument, after: RegistrySnapshot, servedApis: readonly CompiledApi[] | undefined): string[] {
  const served = servedApis === undefined ? undefined : apiEntries(servedApis);
  const listed = new Set((doc.apis ?? []).map(apiName));
  const unlisted = (served ?? []).filter((a) => !listed.has(apiName(a)));
  const warnings = [
    ...(doc.apis === undefined ? [] : missing(doc.apis, (i) => `apis[${i}]`, after)),
    ...missing(unlisted, () => 'The served API', after),
    ...(doc.apis === undefined || served === undefined ? [] : compare(doc.apis, served)),
  ];
  return [...new Set(warnings)];
}

/**
 * The document's API requirements on an API (or resource) this instance does not serve: the rule
 * is created all the same (APIs are code, deployed apart), but it covers nothing until the module is.
 */
export function ruleWarnings(doc: RegistryDocument, servedApis: readonly CompiledApi[] | undefined): string[] {
  if (servedApis === undefined) return [];
  return doc.rules.flatMap((rule, i) => {
    if (rule.kind !== 'api_requirement') return [];
    const target = parseApiTarget(rule.target);
    if (target === undefined) return [];
    const name = `${target.namespace}/${target.id}`;
    const api = servedApis.find((a) => a.namespace === target.namespace && a.id === target.id);
    const where = `rules[${i}]${rule.id === undefined ? '' : ` (${rule.id})`}`;
    if (api === undefined) return [`${where}: this instance does not serve the API ${name}; the rule covers nothing until its module is deployed`];
    if (target.method === undefined || api.resources.some((r) => r.method === target.method?.toUpperCase() && r.template === target.template)) return [];
    return [`${where}: this instance's ${name} has no resource ${target.method.toUpperCase()} ${target.template ?? ''}; the rule covers nothing until it has`];
  });
}
