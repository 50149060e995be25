import { assertionError, assertionFacts, CLIENT_ASSERTION_TYPE, consumeJti, unverifiedClaims, verifyAssertion, type AssertionDeps } from '../assertions/assertion.js';
import { segmentsOf } from '../assertions/facts.js';
import { factString } from '../errors/fact-values.js';
import { spendSignatureCheck } from '../assertions/stand-in.js';
import type { ClientAuthMethod } from './types.js';

/**
 * private_key_jwt: the client authenticates with a JWT signed by its own private key, whose public
 * key it registered (the application's JWKS or JWKS URI). No shared secret exists on the server.
 *
 * The assertion's iss and sub are the client id, aud is our issuer or token endpoint URL (or the
 * URL of the endpoint it is sent to), exp is required, and each jti is accepted once.
 * @see RFC 7523 §2.2, §3; RFC 7521 §4.2; OpenID Connect Core 1.0 §9
 */
export function privateKeyJwt(deps: AssertionDeps): ClientAuthMethod {
  return {
    name: 'private_key_jwt',
    presentIn: (_req, params) => params.client_assertion !== undefined || params.client_assertion_type !== undefined,
    extract(req, params) {
      const type = params.client_assertion_type;
      const assertion = params.client_assertion;
      if (type !== CLIENT_ASSERTION_TYPE) {
        throw assertionError(
          'client',
          'assertion.malformed',
          `client_assertion_type was ${type === undefined ? 'missing' : JSON.stringify(type.slice(0, 100))}.`,
          `Client authentication failed. client_assertion_type must be ${CLIENT_ASSERTION_TYPE} (RFC 7523 section 2.2).`,
        ).withFacts({ assertionType: factString(type, 100), assertionSegments: segmentsOf(assertion), claim: null });
      }
      if (assertion === undefined) {
        throw assertionError('client', 'assertion.malformed', 'client_assertion was missing.', 'Client authentication failed. The client_assertion parameter is required with client_assertion_type.')
          .withFacts({ assertionType: CLIENT_ASSERTION_TYPE, assertionSegments: null, claim: null });
      }
      const { sub, iss } = unverifiedClaims('client', assertion, type);
      // What the assertion said, for the refusal's facts (built only when refusing).
      const facts = () => assertionFacts(deps, assertion);
      // RFC 7523 §3 items 1-2: for client authentication, iss and sub are both the client id.
      if (typeof sub !== 'string' || sub === '') throw assertionError('client', 'assertion.missing_claim', 'The client assertion has no sub claim (the client id).').withFacts({ ...facts(), claim: 'sub' });
      if (iss !== sub) {
        throw assertionError('client', 'assertion.wrong_client', `The client assertion's iss ${JSON.stringify(iss)} differs from its sub ${JSON.stringify(sub)}; both must be the client id.`)
          .withFacts({ ...facts(), expectedIssuer: factString(sub) });
      }
      // RFC 7523 §3.2 / RFC 7521 §4.2: client_id, when sent, identifies the same client.
      if (params.client_id !== undefined && params.client_id !== sub) {
        throw assertionError('client', 'assertion.wrong_client', `client_id ${JSON.stringify(params.client_id.slice(0, 100))} differs from the client assertion's sub ${JSON.stringify(sub.slice(0, 100))}.`)
          .withFacts({ ...facts(), expectedIssuer: factString(sub), requestedClientId: factString(params.client_id) });
      }
      return {
        method: 'private_key_jwt',
        clientId: sub,
        verifyAssertion: async (application) => {
          const verified = await verifyAssertion(deps, 'client', assertion, application);
          await consumeJti(deps, 'client', req, application.clientId, verified);
        },
        // No application has the client id: the answer and the work of a known client's bad signature.
        refuseUnknownClient: async (hint) => {
          await spendSignatureCheck(assertion);
          return assertionError('client', 'client_auth.unknown_client', hint);
        },
      };
    },
  };
}
