import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { didYouMean, editDistance, nearest } from '../src/core/nearest.js';
import { parsePropertyValue } from '../src/registry/properties.js';
import { RegistryError } from '../src/registry/errors.js';

describe('nearest: the "did you mean" of administrator-facing messages', () => {
  it('measures edits, a transposition counting as one', () => {
    assert.equal(editDistance('client_credentials', 'client_credentials'), 0);
    assert.equal(editDistance('client_credentals', 'client_credentials'), 1);
    assert.equal(editDistance('pasword', 'password'), 1);
    assert.equal(editDistance('passowrd', 'password'), 1);
    assert.equal(editDistance('', 'abc'), 3);
  });

  it('suggests the closest candidate only when it is close, never the value itself', () => {
    const grants = ['client_credentials', 'password', 'refresh_token', 'authorization_code'];
    assert.equal(nearest('client_credential', grants), 'client_credentials');
    assert.equal(nearest('Password', grants), 'password');
    assert.equal(nearest('refresh-token', grants), 'refresh_token');
    assert.equal(nearest('banana', grants), undefined);
    assert.equal(nearest('password', grants), undefined);
    assert.equal(nearest('', grants), undefined);
    assert.equal(didYouMean('pasword', grants), ' Did you mean "password"?');
    assert.equal(didYouMean('zzz', grants), '');
  });

  it('is used by the registry: an unknown property names the nearest one', () => {
    assert.throws(
      () => parsePropertyValue('glide.oauth.inbound.ropc.grant_type.disable', 'true'),
      (e: unknown) => e instanceof RegistryError && e.code === 'property_unknown' && e.message.includes('Did you mean "glide.oauth.inbound.ropc.grant_type.disabled"?'),
    );
  });
});
