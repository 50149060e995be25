/**
 * The rules in force, compiled for the hot path (src/registry/rules.ts): read from storage once per
 * change version (any rule write, on any instance, moves it and clears this book through the
 * registry cache) and looked up without allocation on every request. With no rules at all a
 * request pays one property read (`empty`).
 */
import type { Rule } from '../domain/model.js';
import type { Storage } from '../storage/types.js';
import type { RegistryCache } from './cache.js';
import { INSTANCE_TARGET, parseApiTarget, parseMcpTarget } from './rules.js';

export class CompiledRules {
  /** No rule at all: nothing to look up. */
  readonly empty: boolean;
  /** Some api_requirement (reporting or enforced), or a reporting Basic-on-APIs switch. */
  readonly api: boolean;
  /** Some api_requirement on a hosted MCP server (target `mcp:…`). */
  readonly mcp: boolean;
  /** Some reporting rule that the token endpoint checks (property, application, rate_limit). */
  readonly token: boolean;
  /** Reporting property rules by property name. */
  readonly properties: ReadonlyMap<string, Rule>;
  /** Reporting application rules by client id. */
  readonly applications: ReadonlyMap<string, readonly Rule[]>;
  /** Reporting rate_limit rules: by client id, and the instance-wide ones. */
  readonly rateLimits: ReadonlyMap<string, readonly Rule[]>;
  readonly instanceRateLimits: readonly Rule[];
  /** api_requirement rules by API (`namespace/id`) and by resource (`METHOD namespace/id/template`). */
  private readonly byApi = new Map<string, Rule[]>();
  /** Per compiled resource object: its rules, found once. */
  private readonly byResource = new WeakMap<object, readonly Rule[]>();
  /** api_requirement rules on hosted MCP servers by server (`namespace/id`) and by tool (`namespace/id/tool`). */
  private readonly byMcp = new Map<string, Rule[]>();
  /** Per compiled MCP server or tool object: its rules, found once. */
  private readonly byMcpPart = new WeakMap<object, readonly Rule[]>();

  constructor(readonly rules: readonly Rule[]) {
    const properties = new Map<string, Rule>();
    const applications = new Map<string, Rule[]>();
    const rateLimits = new Map<string, Rule[]>();
    const instance: Rule[] = [];
    for (const rule of rules) {
      if (rule.kind === 'api_requirement') {
        const mcp = parseMcpTarget(rule.target);
        if (mcp !== undefined) {
          const key = `${mcp.namespace}/${mcp.id}${mcp.tool === undefined ? '' : `/${mcp.tool}`}`;
          this.byMcp.set(key, [...(this.byMcp.get(key) ?? []), rule]);
          continue;
        }
        const target = parseApiTarget(rule.target);
        if (target === undefined) continue;
        const key = target.method === undefined ? `${target.namespace}/${target.id}` : `${target.method} ${target.namespace}/${target.id}${target.template ?? ''}`;
        const list = this.byApi.get(key) ?? [];
        list.push(rule);
        this.byApi.set(key, list);
        continue;
      }
      // Enforced rules of the other kinds applied their change to the registry: nothing to check.
      if (rule.mode !== 'report') continue;
      if (rule.kind === 'property') properties.set(rule.target, rule);
      else if (rule.kind === 'application') applications.set(rule.target, [...(applications.get(rule.target) ?? []), rule]);
      else if (rule.target === INSTANCE_TARGET) instance.push(rule);
      else rateLimits.set(rule.target, [...(rateLimits.get(rule.target) ?? []), rule]);
    }
    this.properties = properties;
    this.applications = applications;
    this.rateLimits = rateLimits;
    this.instanceRateLimits = instance;
    this.empty = rules.length === 0;
    this.api = this.byApi.size > 0 || properties.has('latchkey.api.basic_auth.enabled');
    this.mcp = this.byMcp.size > 0;
    this.token = [...properties.keys()].some((p) => p !== 'latchkey.api.basic_auth.enabled') || applications.size > 0 || rateLimits.size > 0 || instance.length > 0;
  }

  /** The api_requirement rules of one resource (its API's and its own), oldest first. */
  forResource(resource: object, namespace: string, id: string, method: string, template: string): readonly Rule[] {
    let found = this.byResource.get(resource);
    if (found === undefined) {
      found = [...(this.byApi.get(`${namespace}/${id}`) ?? []), ...(this.byApi.get(`${method} ${namespace}/${id}${template}`) ?? [])];
      this.byResource.set(resource, found);
    }
    return found;
  }

  /**
   * The api_requirement rules on a hosted MCP server (`part`: the server, every request) or on one
   * of its tools (`part`: the tool, `tool`: its name; its calls only), oldest first.
   */
  forMcp(part: object, namespace: string, id: string, tool?: string): readonly Rule[] {
    let found = this.byMcpPart.get(part);
    if (found === undefined) {
      found = this.byMcp.get(`${namespace}/${id}${tool === undefined ? '' : `/${tool}`}`) ?? [];
      this.byMcpPart.set(part, found);
    }
    return found;
  }
}

const NONE = new CompiledRules([]);

/**
 * The compiled rules of this instance. `peek()` answers synchronously while the book is current
 * (the usual case); after a change it is undefined until `load()` reads the rules again.
 */
export class RuleBook {
  private current: CompiledRules | undefined;
  private loading: Promise<CompiledRules> | undefined;
  private generation = 0;

  constructor(private readonly deps: { readonly storage: Pick<Storage, 'rules'>; readonly cache?: Pick<RegistryCache, 'onInvalidate'> }) {
    deps.cache?.onInvalidate(() => {
      this.generation++;
      this.current = undefined;
      this.loading = undefined;
    });
  }

  peek(): CompiledRules | undefined {
    return this.current;
  }

  /** The book, reading the rules when a change cleared it. Rejects when the storage does not answer (an enforced rule must not fail open). */
  load(): Promise<CompiledRules> {
    if (this.current !== undefined) return Promise.resolve(this.current);
    if (this.loading !== undefined) return this.loading;
    const gen = this.generation;
    const loading = this.deps.storage.rules.list().then(
      (rules) => {
        const book = rules.length === 0 ? NONE : new CompiledRules(rules);
        if (gen === this.generation) {
          this.current = book;
          this.loading = undefined;
        }
        return book;
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
