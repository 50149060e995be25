/**
 * Fact resolvers and live fixes of the API and browser side (api, token, introspect, revoke, admin, metrics, outbound, idp, assertion, authorize, pkce, authorization_code reasons).
 */
import type { FactName } from '../../errors/facts.js';
import type { ReasonCode } from '../../errors/reasons.js';
import type { FactResolver, LiveFix } from '../explain.js';

export const API_SIDE_RESOLVERS: Partial<Record<FactName, FactResolver>> = {};

export const API_SIDE_FIXES: Partial<Record<ReasonCode, LiveFix>> = {};
