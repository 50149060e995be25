import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { mapError, REGISTRY_ERROR_STATUS } from '../src/admin/routes/errors.js';
import { LatchkeyError } from '../src/errors/base.js';
import { invalidClient, invalidGrant, refuse, unsupportedGrantType } from '../src/errors/errors.js';
import { AccessJwtRejected, JwtRejected } from '../src/errors/jwt.js';
import { RegistryError } from '../src/errors/registry.js';
import { StorageError } from '../src/errors/storage.js';
import { ConfigError } from '../src/errors/config.js';
import { OutboundFailed } from '../src/errors/outbound.js';

describe('error hygiene', () => {
  it('a template names no reason; withReason and refuse make the refusal, the template is untouched', () => {
    const a = invalidGrant.withReason('refresh_token.reused');
    assert.equal(a.reason, 'refresh_token.reused');
    assert.equal(a.error, 'invalid_grant');
    const b = refuse(unsupportedGrantType, 'grant.unsupported', 'The grant type x is not supported.');
    assert.equal(b.reason, 'grant.unsupported');
    assert.equal(b.description, 'The grant type x is not supported.');
    assert.equal(refuse(invalidClient, 'client_auth.secret_mismatch').headers['www-authenticate'], invalidClient.headers['www-authenticate']);
    assert.equal('reason' in invalidGrant, false);
    assert.equal(invalidGrant.withDescription('Other.').withReason('user.bad_credentials').description, 'Other.');
    assert.equal(invalidGrant.description, 'The grant is invalid.');
  });

  it('withCause keeps the lower error through every later refinement', () => {
    const lower = new JwtRejected('expired', 'The exp claim is in the past.');
    const refused = invalidGrant.withReason('assertion.expired').withCause(lower).withDescription('x').withHint('y').withHeaders({ a: 'b' }).withSubject({ clientId: 'c' }).withReason('assertion.malformed');
    assert.equal(refused.cause, lower);
    assert.equal(invalidGrant.withReason('assertion.expired').cause, undefined);
  });

  it('the error classes share one style: name set, cause passed through, a code where callers branch', () => {
    const cause = new Error('below');
    const all: LatchkeyError[] = [
      new StorageError('unavailable', 'down', { cause }),
      new RegistryError('user_not_found', 'no such user', 'userName', { cause }),
      new ConfigError('config.invalid_kek', 'bad', { cause }),
      new JwtRejected('malformed', 'bad', { cause }),
      new AccessJwtRejected('signature', 'bad', undefined, { cause }),
      new OutboundFailed('failed', { cause }),
    ];
    for (const e of all) {
      assert.ok(e instanceof Error && e instanceof LatchkeyError);
      assert.equal(e.name, e.constructor.name);
      assert.equal(e.cause, cause);
    }
    assert.equal(new StorageError('conflict', 'taken').cause, undefined);
  });

  it('RegistryError is answered by its code: 404 for a missing thing, 409 for one that exists or a change that conflicts with the registry, 400 otherwise', () => {
    // Refusals because of the registry's state, not of the input: 409 Conflict (RFC 9110 §15.5.10).
    const conflicts = new Set(['application_ambiguous', 'token_ambiguous', 'built_in', 'last_administrator', 'in_use']);
    for (const [code, status] of Object.entries(REGISTRY_ERROR_STATUS)) {
      const answered = mapError(new RegistryError(code as keyof typeof REGISTRY_ERROR_STATUS, 'm'));
      assert.equal(answered.status, status, code);
      assert.equal(answered.code, code);
      assert.equal(status, code.endsWith('_not_found') ? 404 : code.endsWith('_exists') || conflicts.has(code) ? 409 : 400, `${code}: the status changed from what the admin API answered before`);
    }
  });
});
