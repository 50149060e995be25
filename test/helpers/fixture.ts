import type { Clock } from '../../src/core/clock.js';
import type { Application, User } from '../../src/domain/model.js';
import { createApplication, type ApplicationInput } from '../../src/registry/applications.js';
import { createScope } from '../../src/registry/scopes.js';
import { setProperty } from '../../src/registry/settings.js';
import { createUser, type CreateUserInput } from '../../src/registry/users.js';
import type { TestServer } from './server.js';

/** The client credentials property, which most fixtures switch on. */
export const CC_PROPERTY = 'glide.oauth.inbound.client.credential.grant_type.enabled';

/** An application of a fixture, with the secret shown once at creation ('' for a public one). */
export interface FixtureApp {
  readonly id: string;
  readonly clientId: string;
  readonly secret: string;
  readonly name: string;
  readonly application: Application;
}

/**
 * What a test needs in the registry before it starts, in the order it is created: scopes, users
 * (their roles are created with them), properties, then applications (which may name those users
 * and scopes). Keys of `apps` name the applications in the result.
 */
export interface FixtureSpec<K extends string> {
  readonly scopes?: readonly string[];
  readonly users?: readonly CreateUserInput[];
  /** Property name → value as `latchkey properties set` takes it. */
  readonly properties?: Readonly<Record<string, string>>;
  /** Fields every application gets unless its own input says otherwise (e.g. the scopes). */
  readonly appDefaults?: ApplicationInput;
  readonly apps?: Readonly<Record<K, ApplicationInput>>;
}

export interface Fixture<K extends string> {
  readonly apps: Readonly<Record<K, FixtureApp>>;
  readonly users: Readonly<Record<string, User>>;
}

/**
 * The one fixture builder of the integration tests: creates a spec through the registry functions
 * (the same validation the CLI and the admin API apply) on a test server's storage, then makes the
 * server's cache see it at once. Replaces each file's own setup of scopes, users, properties and
 * applications.
 */
export async function buildFixture<K extends string = never>(server: TestServer, spec: FixtureSpec<K>, clock?: Clock): Promise<Fixture<K>> {
  const deps = { storage: server.latchkey.storage, clock: clock ?? server.latchkey.clock, grants: server.latchkey.catalogue };
  for (const scope of spec.scopes ?? []) await createScope(deps, scope);
  const users: Record<string, User> = {};
  for (const input of spec.users ?? []) users[input.userName] = (await createUser(deps, input)).user;
  for (const [name, value] of Object.entries(spec.properties ?? {})) await setProperty(deps, name, value);
  const apps = {} as Record<K, FixtureApp>;
  for (const [key, input] of Object.entries(spec.apps ?? {}) as [K, ApplicationInput][]) {
    const created = await createApplication(deps, { ...spec.appDefaults, ...input });
    const { application } = created;
    apps[key] = { id: application.id, clientId: application.clientId, secret: created.clientSecret ?? '', name: application.name, application };
  }
  await server.latchkey.cache.check();
  return { apps, users };
}
