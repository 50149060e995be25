/**
 * The catalogue of resources (RFC 8707 resource indicators) a client may name with the `resource`
 * parameter at the authorization and token endpoints:
 * - the hosted APIs: each at its canonical identifier (`<issuer>/api/<ns>/<id>`) and at every
 *   versioned one, accepting the scopes its module declares;
 * - the hosted MCP servers (`<issuer>/mcp/<ns>/<id>`), accepting the scopes their tools require;
 * - the registered external resources (`latchkey resources add`), accepting the scopes registered
 *   with them (none registered: any scope).
 *
 * The hosted ones are given by the host (app.ts, from the API router, a layer above); the
 * registered ones are read from storage once per change version (any resource write on any
 * instance moves it and clears this catalogue through the registry cache), like the rule book.
 *
 * The registry functions below add, change and remove registered resources, audited.
 */
import { recordChange } from '../audit/log.js';
import { systemClock, type Clock } from '../core/clock.js';
import { didYouMean } from '../core/nearest.js';
import type { Application, ResourceRecord } from '../domain/model.js';
import { canonicalResource } from '../domain/resource-uri.js';
import type { Storage } from '../storage/types.js';
import type { RegistryCache } from './cache.js';
import { RegistryError } from './errors.js';
import { SCOPE_TOKEN } from './scopes.js';

export type ResourceKind = 'api' | 'mcp' | 'external';

/** One resource a client may name. */
export interface KnownResource {
  /** Its canonical identifier. */
  readonly uri: string;
  readonly kind: ResourceKind;
  readonly name: string;
  readonly description: string;
  /** The scopes a token for it may carry; empty: any scope (an external resource registered without scopes, an API declaring none). */
  readonly scopes: readonly string[];
  /** For a hosted API or MCP server: `<namespace>/<id>`. */
  readonly key?: string;
  /** For a versioned path of a hosted API: the version. */
  readonly version?: string;
}

/** The scopes that concern the authorization server itself (OpenID Connect), never a resource: not checked against a resource's scopes. */
export const SERVER_SCOPES: readonly string[] = ['openid', 'offline_access', 'profile', 'email', 'phone', 'address'];

/** The catalogue at one change version: every known resource by its canonical identifier. */
export class ResourceCatalogueView {
  private readonly byUri = new Map<string, KnownResource>();

  constructor(readonly resources: readonly KnownResource[]) {
    // Hosted first: a registered resource never shadows a hosted one (registration refuses it, too).
    for (const r of resources) if (!this.byUri.has(r.uri)) this.byUri.set(r.uri, r);
  }

  find(uri: string): KnownResource | undefined {
    return this.byUri.get(uri);
  }

  /** Every known identifier (for "did you mean"). */
  uris(): string[] {
    return [...this.byUri.keys()];
  }
}

export interface ResourceCatalogueDeps {
  readonly storage: Pick<Storage, 'resources'>;
  readonly cache?: Pick<RegistryCache, 'onInvalidate'>;
  /** The hosted APIs and MCP servers (fixed while the process runs); absent: none. */
  readonly hosted?: () => readonly KnownResource[];
}

/**
 * The known resources of this instance. `peek()` answers synchronously while the catalogue is
 * current (the usual case); after a change it is undefined until `load()` reads the registered
 * resources again.
 */
export class ResourceCatalogue {
  private current: ResourceCatalogueView | undefined;
  private loading: Promise<ResourceCatalogueView> | undefined;
  private generation = 0;

  constructor(private readonly deps: ResourceCatalogueDeps) {
    deps.cache?.onInvalidate(() => {
      this.generation++;
      this.current = undefined;
      this.loading = undefined;
    });
  }

  peek(): ResourceCatalogueView | undefined {
    return this.current;
  }

  load(): Promise<ResourceCatalogueView> {
    if (this.current !== undefined) return Promise.resolve(this.current);
    if (this.loading !== undefined) return this.loading;
    const gen = this.generation;
    const loading = this.deps.storage.resources.list().then(
      (registered) => {
        let hosted: readonly KnownResource[] = [];
        let complete = true;
        try {
          hosted = this.deps.hosted?.() ?? [];
        } catch {
          // The issuer is not known yet (hosted identifiers derive from it): answer without them, keep nothing.
          complete = false;
        }
        const view = new ResourceCatalogueView([...hosted, ...registered.map(externalResource)]);
        if (!complete) {
          if (gen === this.generation) this.loading = undefined;
          return view;
        }
        if (gen === this.generation) {
          this.current = view;
          this.loading = undefined;
        }
        return view;
      },
      (error: unknown) => {
        if (gen === this.generation) this.loading = undefined;
        throw error;
      },
    );
    this.loading = loading;
    return loading;
  }
}

export function externalResource(r: ResourceRecord): KnownResource {
  return { uri: r.uri, kind: 'external', name: r.name, description: r.description, scopes: r.scopes };
}

/** Whether the application may request tokens for the resource (RFC 8707; Application.resources, null: any). */
export function resourceAllowed(app: Pick<Application, 'resources'>, uri: string): boolean {
  return app.resources === undefined || app.resources === null || app.resources.includes(uri);
}

/** The scopes of `scopes` a resource does not accept (server scopes aside); empty when it accepts any. */
export function scopesNotAccepted(resource: KnownResource, scopes: readonly string[]): string[] {
  if (resource.scopes.length === 0) return [];
  return scopes.filter((s) => !SERVER_SCOPES.includes(s) && !resource.scopes.includes(s));
}

// ---- registered external resources: the registry's changes --------------------------------------

type Deps = { storage: Pick<Storage, 'resources'> & Partial<Pick<Storage, 'audit'>>; clock?: Clock; actor?: string | undefined };

export interface ResourceInput {
  readonly uri: string;
  readonly name?: string | undefined;
  readonly description?: string | undefined;
  readonly scopes?: readonly string[] | undefined;
}

/** The canonical form of a resource identifier given by an administrator, or a RegistryError saying what is wrong. */
export function checkResourceUri(value: string, field = 'uri'): string {
  const result = canonicalResource(value.trim());
  if (!result.ok) throw new RegistryError('invalid_input', `"${value.slice(0, 200)}" is not a resource identifier: ${result.message}`, field);
  return result.uri;
}

function checkScopes(scopes: readonly string[]): string[] {
  const out = [...new Set(scopes.map((s) => s.trim()).filter((s) => s !== ''))];
  for (const s of out) {
    if (!SCOPE_TOKEN.test(s) || s.length > 100) throw new RegistryError('invalid_input', `"${s.slice(0, 100)}" is not a valid scope name (RFC 6749 §3.3).`, 'scopes');
  }
  if (out.length > 200) throw new RegistryError('invalid_input', 'A resource accepts at most 200 scopes.', 'scopes');
  return out.sort();
}

function checkText(value: string, max: number, field: string): string {
  if (value.length > max || /[\x00-\x1f\x7f]/.test(value)) throw new RegistryError('invalid_input', `The ${field} may have at most ${max} printable characters.`, field);
  return value;
}

/** Registers an external resource. Refused when its identifier is taken (registered, or a hosted API or MCP server: `hosted`). */
export async function addResource(deps: Deps & { hosted?: readonly string[] }, input: ResourceInput): Promise<ResourceRecord> {
  const uri = checkResourceUri(input.uri);
  if (deps.hosted?.includes(uri) === true) {
    throw new RegistryError('resource_exists', `${uri} is a hosted API or MCP server of this instance: it is a resource already (see \`latchkey resources list\`).`, 'uri');
  }
  if ((await deps.storage.resources.byUri(uri)) !== undefined) {
    throw new RegistryError('resource_exists', `The resource ${uri} is registered already. Change it with \`latchkey resources update ${uri}\`.`, 'uri');
  }
  const now = (deps.clock ?? systemClock).now();
  const resource: ResourceRecord = {
    uri,
    name: checkText(input.name?.trim() || new URL(uri).host, 100, 'name'),
    description: checkText(input.description ?? '', 500, 'description'),
    scopes: checkScopes(input.scopes ?? []),
    createdAt: now,
    updatedAt: now,
  };
  await deps.storage.resources.create(resource);
  await recordChange({ ...deps, clock: deps.clock ?? systemClock }, { action: 'resource.create', target: uri, before: null, after: resource });
  return resource;
}

export async function findResource(deps: { storage: Pick<Storage, 'resources'> }, value: string): Promise<ResourceRecord> {
  const parsed = canonicalResource(value.trim());
  const found = parsed.ok ? await deps.storage.resources.byUri(parsed.uri) : undefined;
  if (found === undefined) {
    const near = didYouMean(value, (await deps.storage.resources.list()).map((r) => r.uri));
    throw new RegistryError('resource_not_found', `No registered resource ${value.slice(0, 200)}.${near} List them with \`latchkey resources list\`.`);
  }
  return found;
}

/** Changes a registered resource's name, description or accepted scopes (its identifier is its identity: tokens carry it). */
export async function updateResource(deps: Deps, uri: string, input: Omit<ResourceInput, 'uri'>): Promise<ResourceRecord> {
  const current = await findResource(deps, uri);
  const next: ResourceRecord = {
    ...current,
    name: input.name === undefined ? current.name : checkText(input.name.trim() || current.name, 100, 'name'),
    description: input.description === undefined ? current.description : checkText(input.description, 500, 'description'),
    scopes: input.scopes === undefined ? current.scopes : checkScopes(input.scopes),
    updatedAt: (deps.clock ?? systemClock).now(),
  };
  await deps.storage.resources.update(next);
  await recordChange({ ...deps, clock: deps.clock ?? systemClock }, { action: 'resource.update', target: current.uri, before: current, after: next });
  return next;
}

/**
 * Removes a registered resource. Tokens already issued for it keep it as their audience until they
 * expire (the resource decides whether it still accepts them); applications limited to it keep the
 * identifier in their list, which then matches nothing (`latchkey doctor` does not flag it: it
 * names only registered resources).
 */
export async function removeResource(deps: Deps, uri: string): Promise<ResourceRecord> {
  const current = await findResource(deps, uri);
  await deps.storage.resources.delete(current.uri);
  await recordChange({ ...deps, clock: deps.clock ?? systemClock }, { action: 'resource.delete', target: current.uri, before: current, after: null });
  return current;
}
