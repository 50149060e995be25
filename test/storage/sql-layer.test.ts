/**
 * The shared SQL layer (src/storage/sql/) on its own, for every dialect: mappers agree with the
 * column lists, codecs round-trip, the list builder numbers its placeholders, applies the limit
 * rule and builds each text once. The contract suite runs the same layer against real databases.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { POSTGRES_DIALECT } from '../../src/storage/postgres/dialect.js';
import type { SqlDialect } from '../../src/storage/sql/dialect.js';
import { listQuery, updateByKey, updateValues, when } from '../../src/storage/sql/queries.js';
import { actEncode, audienceEncode, COLUMNS, pushedRequestFromRow, pushedRequestParams, exchangeRows, sqlRows } from '../../src/storage/sql/rows.js';
import { TOKEN_EXCHANGE_GRANT } from '../../src/grants/grant-type.js';
import { SQLITE_DIALECT } from '../../src/storage/sqlite/dialect.js';
import { DEVICE_COLUMNS_LIST, deviceArgs, deviceFromRow, deviceNamedArgs, deviceStatements, deviceValues, type DeviceCodeRow } from '../../src/storage/sql/device-codes.js';
import { makeDevice } from './device-contract.js';
import { makeApp, makeAuditEntry, makeCode, makeIdentityProvider, makeRefusal, makeSession, makeSigningKey, makeUser } from './contract.js';

/** A row as a driver would return it: the parameters (in column order) under the column names. */
function rowOf<R>(columns: readonly string[], values: readonly unknown[]): R {
  assert.equal(values.length, columns.length, 'one parameter per column');
  return Object.fromEntries(columns.map((c, i) => [c, values[i]])) as R;
}

for (const d of [SQLITE_DIALECT, POSTGRES_DIALECT] satisfies SqlDialect[]) {
  describe(`sql layer: ${d.name}`, () => {
    const r = sqlRows(d);

    it('maps every record to its columns and back (parameters in COLUMNS order)', () => {
      const user = makeUser({ roles: [], passwordChangedAt: 7 });
      assert.deepEqual(r.userFromRow(rowOf(COLUMNS.users, r.userParams(user))), user);
      const app = makeApp({ public: true, active: false, canIntrospect: true, redirectUris: [], secretRotatedAt: 3, appUserId: 'u', logoUri: 'https://l', audience: 'aud', jwks: '{}', jwksUri: 'https://j', updatedAt: 9 });
      assert.deepEqual(r.applicationFromRow(rowOf(COLUMNS.applications, r.applicationParams(app))), app);
      const parApp = makeApp({ parRequired: true });
      assert.deepEqual(r.applicationFromRow(rowOf(COLUMNS.applications, r.applicationParams(parApp))), parApp);
      const pushed = { hash: 'h', applicationId: 'a', parameters: 'response_type=code&resource=x&resource=y', createdAt: 1, expiresAt: 2, usedAt: 3 };
      assert.deepEqual(pushedRequestFromRow(rowOf(COLUMNS.pushedRequests, pushedRequestParams(pushed))), pushed);
      assert.deepEqual(pushedRequestFromRow(rowOf(COLUMNS.pushedRequests, pushedRequestParams({ ...pushed, usedAt: null }))), { ...pushed, usedAt: null });
      const code = makeCode({ usedAt: 8 });
      assert.deepEqual(r.codeFromRow(rowOf(COLUMNS.codes, r.codeParams(code))), code);
      const idp = makeIdentityProvider({ active: false, jwksUri: 'https://j', updatedAt: 9 });
      assert.deepEqual(r.identityProviderFromRow(rowOf(COLUMNS.identityProviders, r.identityProviderParams(idp))), idp);
      const key = makeSigningKey({ activatesAt: 4, retiresAt: 5, publishUntil: 6 });
      assert.deepEqual(r.signingKeyFromRow(rowOf(COLUMNS.signingKeys, r.signingKeyParams(key))), key);
      const refusal = makeRefusal({ hint: 'h', clientId: 'c', applicationName: 'a', userName: 'u', remoteAddress: 'r' });
      assert.deepEqual(r.refusalFromRow(rowOf(COLUMNS.refusals, r.refusalParams(refusal))), refusal);
      const session = makeSession({ parentId: 'p', lastSeenAt: 2, revokedAt: 3 });
      assert.deepEqual(r.sessionFromRow(rowOf(COLUMNS.sessions, r.sessionParams(session))), session);
      const entry = makeAuditEntry();
      assert.deepEqual(r.auditFromRow(rowOf(COLUMNS.audit, r.auditParams(entry))), entry);
      assert.deepEqual(r.tokenFromRow(rowOf(COLUMNS.tokens, ['h', 'access', 'a', 'u', d.words.encode(['x', 'y']), 'password', 1, 2, 'f', 'revoked', 3, null, null, null])), {
        hash: 'h', kind: 'access', applicationId: 'a', userId: 'u', scopes: ['x', 'y'], grantType: 'password', issuedAt: 1, expiresAt: 2, familyId: 'f', status: 'revoked', revokedAt: 3,
      });
      // A token issued for resources (RFC 8707) carries its audience; one without has none.
      const audience = ['https://a.example.test', 'https://b.example.test/api'];
      assert.deepEqual(r.tokenFromRow(rowOf(COLUMNS.tokens, ['h', 'access', 'a', null, d.words.encode([]), 'client_credentials', 1, 2, 'f', 'active', null, audienceEncode(audience), null, null])).audience, audience);
      // RFC 9449: a DPoP-bound token carries its key thumbprint; a bearer token has none.
      assert.equal(r.tokenFromRow(rowOf(COLUMNS.tokens, ['h', 'access', 'a', null, d.words.encode([]), 'client_credentials', 1, 2, 'f', 'active', null, null, 'jkt-1', null])).jkt, 'jkt-1');
      const boundCode = makeCode({ dpopJkt: 'jkt-2' });
      assert.deepEqual(r.codeFromRow(rowOf(COLUMNS.codes, r.codeParams(boundCode))), boundCode);
      const dpopApp = makeApp({ dpopRequired: true });
      assert.equal(r.applicationFromRow(rowOf(COLUMNS.applications, r.applicationParams(dpopApp))).dpopRequired, true);
      // A token of a token exchange with an actor (RFC 8693 §4.1) carries its act, nested chains included.
      const act = { sub: 'svc-agent', client_id: 'c1', act: { sub: 'svc-first' } };
      assert.deepEqual(r.tokenFromRow(rowOf(COLUMNS.tokens, ['h', 'access', 'a', 'u', d.words.encode([]), TOKEN_EXCHANGE_GRANT, 1, 2, 'f', 'active', null, null, null, actEncode(act)])).act, act);
      // Exchange policies: the spec as JSON.
      const policy = { clientId: 'c1', spec: { subjectApplications: ['*'], identityProviders: ['corp'], idTokens: true, resources: ['https://a.example.test'], scopes: ['x'], impersonation: false }, createdAt: 1, updatedAt: 2 };
      assert.deepEqual(exchangeRows.exchangePolicyFromRow(rowOf(COLUMNS.exchangePolicies, exchangeRows.exchangePolicyParams(policy))), policy);
      for (const builtIn of [true, false]) {
        const named = { name: 'n', description: 'd', builtIn };
        assert.deepEqual(r.namedFromRow(rowOf(COLUMNS.named, r.namedParams(named))), named);
      }
    });

    it('round-trips the codecs, empty lists included', () => {
      for (const xs of [[], ['a'], ['a', 'b-c']]) {
        assert.deepEqual(d.list.decode(d.list.encode(xs)), xs);
        assert.deepEqual(d.words.decode(d.words.encode(xs)), xs);
      }
      assert.equal(d.bool.decode(d.bool.encode(true)), true);
      assert.equal(d.bool.decode(d.bool.encode(false)), false);
    });

    it('updates by the first column, with the values in the order the placeholders take them', () => {
      const text = updateByKey(d, 't', ['id', 'a', 'b']);
      const values = updateValues(d, ['k', 1, 2]);
      if (d.numberedParams) {
        assert.equal(text, 'UPDATE t SET a = $2, b = $3 WHERE id = $1');
        assert.deepEqual(values, ['k', 1, 2]);
      } else {
        assert.equal(text, 'UPDATE t SET a = ?, b = ? WHERE id = ?');
        assert.deepEqual(values, [1, 2, 'k']);
      }
    });

    it('builds list queries: present filters only, numbered in order, the order with its tie-break, the limit rule', () => {
      let builds = 0;
      type Q = { readonly a?: string; readonly b?: number; readonly limit?: number };
      const counted = (condition: string, value: (q: Q) => unknown) => {
        const f = when(condition, value);
        return { sql: (p: string) => ((builds += 1), f.sql(p)), value };
      };
      const list = listQuery<Q>(d, { name: 'x', from: 'c FROM t', filters: [counted('a =', (q) => q.a), counted('b >=', (q) => q.b)], orderBy: 'at DESC, id' });
      const p = (n: number) => d.param(n);
      const none = list({});
      assert.equal(none.text, 'SELECT c FROM t ORDER BY at DESC, id LIMIT ' + p(1));
      assert.deepEqual(none.values, [100]);
      const onlyB = list({ b: 0, limit: 2.9 });
      assert.equal(onlyB.text, `SELECT c FROM t WHERE b >= ${p(1)} ORDER BY at DESC, id LIMIT ${p(2)}`);
      assert.deepEqual(onlyB.values, [0, 2]);
      const both = list({ a: 'x', b: 1, limit: -3 });
      assert.equal(both.text, `SELECT c FROM t WHERE a = ${p(1)} AND b >= ${p(2)} ORDER BY at DESC, id LIMIT ${p(3)}`);
      assert.deepEqual(both.values, ['x', 1, 0]);
      assert.deepEqual(list({ limit: Number.NaN }).values, [100]);
      assert.equal(new Set([none.name, onlyB.name, both.name]).size, 3, 'one statement name per text');
      const before = builds;
      for (let i = 0; i < 5; i++) list({ a: 'y', b: i });
      assert.equal(builds, before, 'a combination of filters is built once');
      assert.equal(list({ a: 'z', b: 2 }).name, both.name);
    });
  });
}

describe('sql layer: device codes (RFC 8628)', () => {
  it('maps a device authorization to its columns and back, and numbers or names the placeholders per dialect', () => {
    const d = makeDevice({ status: 'approved', userId: 'u', authTime: 5, lastPollAt: 6, decidedAt: 7, scopes: [], resources: [] });
    const values = deviceValues(d);
    assert.deepEqual(Object.keys(values), [...DEVICE_COLUMNS_LIST]);
    assert.deepEqual(deviceFromRow(values as unknown as DeviceCodeRow), d);
    // PostgreSQL BIGINT as text (a driver without the bigint parser) reads the same.
    assert.deepEqual(deviceFromRow({ ...(values as unknown as DeviceCodeRow), created_at: String(d.createdAt), expires_at: String(d.expiresAt) }), d);
    const pg = deviceStatements('postgres').devicePoll;
    assert.deepEqual(pg.names, ['now', 'device_hash', 'application_id']);
    assert.match(pg.text, /WHERE device_hash = \$2 AND application_id = \$3/);
    assert.deepEqual(deviceArgs(pg, { device_hash: 'h', application_id: 'a', now: 9 }), [9, 'h', 'a']);
    const sqlite = deviceStatements('sqlite').devicePoll;
    assert.match(sqlite.text, /WHERE device_hash = @device_hash AND application_id = @application_id/);
    assert.deepEqual(deviceNamedArgs(sqlite, { device_hash: 'h', application_id: 'a', now: 9, limit: 1 }), { now: 9, device_hash: 'h', application_id: 'a' });
  });
});
