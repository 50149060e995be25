import { clampLimit, DEFAULT_LIST_LIMIT } from '../limits.js';
import type { AuditQuery, RefusalQuery, TokenQuery } from '../types.js';
import { params, type SqlDialect } from './dialect.js';
import {
  APPLICATION_COLUMNS,
  ATTEMPT_COLUMNS,
  AUDIT_COLUMNS,
  CODE_COLUMNS,
  IDP_COLUMNS,
  NAMED_COLUMNS,
  REFUSAL_COLUMNS,
  RESOURCE_COLUMNS,
  RULE_COLUMNS,
  SESSION_COLUMNS,
  SIGNING_KEY_COLUMNS,
  TOKEN_COLUMNS,
  USER_COLUMNS,
  IAT_COLUMNS,
  REGISTRATION_COLUMNS,
  REGISTRATION_POLICY_COLUMNS,
  EXCHANGE_POLICY_COLUMNS,
} from './rows.js';

/**
 * The order of every list, tie-break included (the rules are on the ports in storage/types.ts; the
 * memory adapter sorts the same way). PostgreSQL text keys are COLLATE "C", so both databases
 * compare them in byte order.
 */
export const ORDER = {
  users: 'user_name',
  named: 'name',
  applications: 'name, client_id',
  properties: 'name',
  identityProviders: 'name',
  tokens: 'issued_at DESC, hash',
  refusals: 'at DESC, request_id DESC',
  audit: 'at DESC, id DESC',
  signingKeys: 'activates_at, kid',
  sessions: 'created_at DESC, id',
  attempts: 'last_at DESC, kind, user_name, source',
  activity: 'metric, bucket',
  usage: 'client_id, day, scope',
  rules: 'created_at, id',
  resources: 'uri',
  initialAccessTokens: 'created_at, id',
  registrationPolicies: 'name',
  exchangePolicies: 'client_id',
  registrations: 'created_at, client_id',
} as const;

/** `INSERT INTO table (columns) VALUES (…)`, the values in column order. */
export function insertInto(d: SqlDialect, table: string, columns: readonly string[]): string {
  return `INSERT INTO ${table} (${columns.join(', ')}) VALUES (${params(d, columns.length)})`;
}

/**
 * `UPDATE table SET every column but the first … WHERE first = …`. Its values are the row's
 * parameters in column order (the key first) reordered by {@link updateValues}.
 */
export function updateByKey(d: SqlDialect, table: string, columns: readonly string[]): string {
  const [key, ...rest] = columns;
  // Numbered placeholders keep column order ($1 the key); in-order ones take the key last.
  const at = (i: number): string => d.param(d.numberedParams ? i + 1 : i);
  return `UPDATE ${table} SET ${rest.map((c, i) => `${c} = ${at(i + 1)}`).join(', ')} WHERE ${key} = ${d.numberedParams ? d.param(1) : d.param(columns.length)}`;
}

/** The values of an {@link updateByKey} statement from the row's parameters in column order. */
export function updateValues(d: SqlDialect, values: readonly unknown[]): unknown[] {
  return d.numberedParams ? [...values] : [...values.slice(1), values[0]];
}

/** The columns of a usage row, named as UsageRow names them. */
export const USAGE_COLUMNS = 'client_id AS "clientId", day, scope, tokens, calls, refusals, last_use_at AS "lastUseAt"';

/** Reads both adapters run as they are (the same text but for the placeholders). */
export function sharedReads(d: SqlDialect) {
  const [p1, p2, p3] = [d.param(1), d.param(2), d.param(3)];
  return {
    userById: `SELECT ${USER_COLUMNS} FROM users WHERE id = ${p1}`,
    userByName: `SELECT ${USER_COLUMNS} FROM users WHERE user_name = ${p1}`,
    userList: `SELECT ${USER_COLUMNS} FROM users ORDER BY ${ORDER.users}`,
    roleByName: `SELECT ${NAMED_COLUMNS} FROM roles WHERE name = ${p1}`,
    roleList: `SELECT ${NAMED_COLUMNS} FROM roles ORDER BY ${ORDER.named}`,
    scopeByName: `SELECT ${NAMED_COLUMNS} FROM scopes WHERE name = ${p1}`,
    scopeList: `SELECT ${NAMED_COLUMNS} FROM scopes ORDER BY ${ORDER.named}`,
    appById: `SELECT ${APPLICATION_COLUMNS} FROM applications WHERE id = ${p1}`,
    appByClientId: `SELECT ${APPLICATION_COLUMNS} FROM applications WHERE client_id = ${p1}`,
    appList: `SELECT ${APPLICATION_COLUMNS} FROM applications ORDER BY ${ORDER.applications}`,
    propList: `SELECT name, value, updated_at AS "updatedAt" FROM properties ORDER BY ${ORDER.properties}`,
    tokenByHash: `SELECT ${TOKEN_COLUMNS} FROM tokens WHERE hash = ${p1}`,
    tokenExport: `SELECT ${TOKEN_COLUMNS} FROM tokens WHERE hash > ${p1} ORDER BY hash LIMIT ${p2}`,
    // A range on the primary key (byte order: SQLite's BINARY collation, PostgreSQL's COLLATE "C").
    tokenByPrefix: `SELECT ${TOKEN_COLUMNS} FROM tokens WHERE hash >= ${p1} AND hash < ${p2} ORDER BY hash LIMIT ${p3}`,
    refusalById: `SELECT ${REFUSAL_COLUMNS} FROM refusals WHERE request_id = ${p1}`,
    refusalExport: `SELECT ${REFUSAL_COLUMNS} FROM refusals WHERE request_id > ${p1} ORDER BY request_id LIMIT ${p2}`,
    auditExport: `SELECT ${AUDIT_COLUMNS} FROM audit WHERE id > ${p1} ORDER BY id LIMIT ${p2}`,
    keyList: `SELECT ${SIGNING_KEY_COLUMNS} FROM signing_keys ORDER BY ${ORDER.signingKeys}`,
    codeByHash: `SELECT ${CODE_COLUMNS} FROM authorization_codes WHERE hash = ${p1}`,
    idpById: `SELECT ${IDP_COLUMNS} FROM identity_providers WHERE id = ${p1}`,
    idpByName: `SELECT ${IDP_COLUMNS} FROM identity_providers WHERE name = ${p1}`,
    ruleById: `SELECT ${RULE_COLUMNS} FROM rules WHERE id = ${p1}`,
    ruleList: `SELECT ${RULE_COLUMNS} FROM rules ORDER BY ${ORDER.rules}`,
    resourceByUri: `SELECT ${RESOURCE_COLUMNS} FROM resources WHERE uri = ${p1}`,
    resourceList: `SELECT ${RESOURCE_COLUMNS} FROM resources ORDER BY ${ORDER.resources}`,
    idpList: `SELECT ${IDP_COLUMNS} FROM identity_providers ORDER BY ${ORDER.identityProviders}`,
    sessionById: `SELECT ${SESSION_COLUMNS} FROM sessions WHERE id = ${p1}`,
    sessionListUser: `SELECT ${SESSION_COLUMNS} FROM sessions WHERE user_id = ${p1} AND revoked_at IS NULL AND expires_at > ${p2} ORDER BY ${ORDER.sessions}`,
    activitySeries: `SELECT bucket, count FROM activity WHERE metric = ${p1} AND bucket >= ${p2} ORDER BY bucket`,
    activityList: `SELECT bucket, metric, count FROM activity WHERE metric >= ${p1} AND metric < ${p2} AND bucket >= ${p3} ORDER BY ${ORDER.activity}`,
    usageList: `SELECT ${USAGE_COLUMNS} FROM usage WHERE day >= ${p1} ORDER BY ${ORDER.usage}`,
    usageListClient: `SELECT ${USAGE_COLUMNS} FROM usage WHERE client_id = ${p1} AND day >= ${p2} ORDER BY ${ORDER.usage}`,
    usageFirstDay: 'SELECT MIN(day) AS day FROM usage',
    iatById: `SELECT ${IAT_COLUMNS} FROM initial_access_tokens WHERE id = ${p1}`,
    iatByHash: `SELECT ${IAT_COLUMNS} FROM initial_access_tokens WHERE hash = ${p1}`,
    iatList: `SELECT ${IAT_COLUMNS} FROM initial_access_tokens ORDER BY ${ORDER.initialAccessTokens}`,
    regPolicyByName: `SELECT ${REGISTRATION_POLICY_COLUMNS} FROM registration_policies WHERE name = ${p1}`,
    regPolicyList: `SELECT ${REGISTRATION_POLICY_COLUMNS} FROM registration_policies ORDER BY ${ORDER.registrationPolicies}`,
    exchangePolicyByClientId: `SELECT ${EXCHANGE_POLICY_COLUMNS} FROM exchange_policies WHERE client_id = ${p1}`,
    exchangePolicyList: `SELECT ${EXCHANGE_POLICY_COLUMNS} FROM exchange_policies ORDER BY ${ORDER.exchangePolicies}`,
    registrationByClientId: `SELECT ${REGISTRATION_COLUMNS} FROM registrations WHERE client_id = ${p1}`,
    registrationBySource: `SELECT ${REGISTRATION_COLUMNS} FROM registrations WHERE source = ${p1} AND fingerprint = ${p2}`,
    registrationList: `SELECT ${REGISTRATION_COLUMNS} FROM registrations ORDER BY ${ORDER.registrations}`,
    registrationUnused: `SELECT ${REGISTRATION_COLUMNS} FROM registrations WHERE COALESCE(last_used_at, created_at) < ${p1} ORDER BY ${ORDER.registrations} LIMIT ${p2}`,
    attemptList: `SELECT ${ATTEMPT_COLUMNS} FROM login_attempts WHERE kind IN ('pair', 'user') AND expires_at > ${p1} ORDER BY ${ORDER.attempts} LIMIT ${p2}`,
  };
}

/** One optional condition of a list query, with one parameter. */
export interface ListFilter<Q> {
  /** The condition, given its parameter's placeholder. */
  readonly sql: (param: string) => string;
  /** The parameter, or undefined when the query does not filter on it. */
  readonly value: (q: Q) => unknown;
}

/** A filter `condition <placeholder>`, e.g. `when('reason =', (q) => q.reason)`. */
export const when = <Q>(condition: string, value: (q: Q) => unknown): ListFilter<Q> => ({ sql: (p) => `${condition} ${p}`, value });

export interface ListSpec<Q> {
  /** Names the statement (a prepared statement per combination of filters). */
  readonly name: string;
  /** `columns FROM table`. */
  readonly from: string;
  readonly filters: readonly ListFilter<Q>[];
  /** The order, tie-break included (see ORDER). */
  readonly orderBy: string;
}

/** A list query ready to run: a name unique per text (for a prepared statement), the text, its values. */
export interface ListQuery {
  readonly name: string;
  readonly text: string;
  readonly values: unknown[];
}

/**
 * The list/`where` builder: the query's present filters ANDed, the order with its tie-break, and
 * the query's `limit` by the one rule (limits.ts). The text is built once per combination of
 * filters (at most 2^filters) and cached, so a list runs a fixed, preparable statement.
 */
export function listQuery<Q extends { readonly limit?: number }>(d: SqlDialect, spec: ListSpec<Q>): (q: Q) => ListQuery {
  const texts = new Map<number, string>();
  const build = (mask: number): string => {
    const where: string[] = [];
    spec.filters.forEach((f, i) => {
      if (mask & (1 << i)) where.push(f.sql(d.param(where.length + 1)));
    });
    const limit = d.param(where.length + 1);
    return `SELECT ${spec.from}${where.length > 0 ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY ${spec.orderBy} LIMIT ${limit}`;
  };
  return (q) => {
    const values: unknown[] = [];
    let mask = 0;
    for (let i = 0; i < spec.filters.length; i++) {
      const value = spec.filters[i]!.value(q);
      if (value === undefined) continue;
      mask |= 1 << i;
      values.push(value);
    }
    values.push(clampLimit(q.limit, DEFAULT_LIST_LIMIT));
    let text = texts.get(mask);
    if (text === undefined) texts.set(mask, (text = build(mask)));
    return { name: `${spec.name}_${mask}`, text, values };
  };
}

/** `tokens.list`, `refusals.list` and `audit.list` in one dialect. */
export function listQueries(d: SqlDialect) {
  return {
    tokens: listQuery<TokenQuery>(d, {
      name: 'tokenList',
      from: `${TOKEN_COLUMNS} FROM tokens`,
      filters: [
        when('application_id =', (q) => q.applicationId),
        when('user_id =', (q) => q.userId),
        when("status = 'active' AND expires_at >", (q) => (q.activeOnly ? (q.now ?? Date.now()) : undefined)),
      ],
      orderBy: ORDER.tokens,
    }),
    refusals: listQuery<RefusalQuery>(d, {
      name: 'refusalList',
      from: `${REFUSAL_COLUMNS} FROM refusals`,
      filters: [
        when('reason =', (q) => q.reason),
        when('at >=', (q) => q.since),
        // Real refusals unless asked otherwise; 'all' drops the condition.
        when("(CASE WHEN rule_id IS NULL THEN 'refused' ELSE 'would_refuse' END) =", (q) => (q.outcome === 'all' ? undefined : q.outcome ?? (q.ruleId === undefined ? 'refused' : undefined))),
        when('rule_id =', (q) => q.ruleId),
      ],
      orderBy: ORDER.refusals,
    }),
    audit: listQuery<AuditQuery>(d, {
      name: 'auditList',
      from: `${AUDIT_COLUMNS} FROM audit`,
      filters: [when('at >=', (q) => q.since), when('target =', (q) => q.target), when('action =', (q) => q.action)],
      orderBy: ORDER.audit,
    }),
  };
}
