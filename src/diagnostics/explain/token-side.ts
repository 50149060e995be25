/**
 * Fact resolvers and live fixes of the token endpoint side (request, client_auth, grant, scope, user, password, refresh_token, instance, application_user, rate_limit reasons).
 */
import type { FactName } from '../../errors/facts.js';
import type { ReasonCode } from '../../errors/reasons.js';
import type { FactResolver, LiveFix } from '../explain.js';

export const TOKEN_SIDE_RESOLVERS: Partial<Record<FactName, FactResolver>> = {};

export const TOKEN_SIDE_FIXES: Partial<Record<ReasonCode, LiveFix>> = {};
