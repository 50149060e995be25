import { commandLine, type Finding, type Snapshot } from './findings.js';

/**
 * `cimd_trusts_any_domain`: client ID metadata documents are accepted (latchkey.cimd.enabled),
 * from any host (latchkey.cimd.allow_unknown_domains) and no allowed list narrows them
 * (latchkey.cimd.allowed_domains is empty): anyone can publish a document and appear on the
 * consent page under the name it chooses. Each such client still needs a user to consent, and
 * its name is shown with the host that published it; the warning says how to narrow it.
 */
export function cimdTrust(s: Snapshot): Finding[] {
  if (!s.props['latchkey.cimd.enabled'] || !s.props['latchkey.cimd.allow_unknown_domains'] || s.props['latchkey.cimd.allowed_domains'] !== '') return [];
  return [
    {
      id: 'cimd_trusts_any_domain',
      severity: 'warning',
      title: 'Client ID metadata documents are accepted from any domain',
      detail:
        'latchkey.cimd.enabled and latchkey.cimd.allow_unknown_domains are true and latchkey.cimd.allowed_domains is empty: any https URL can be a client_id, and any host can publish a client that asks your users for consent under the name it chooses (the consent page shows the host). Right for an instance that serves MCP clients from anywhere; otherwise narrow it.',
      fix: 'List the hosts whose clients you trust and refuse the others (the command, then latchkey.cimd.allow_unknown_domains false), or switch client ID metadata documents off (latchkey.cimd.enabled false).',
      command: commandLine(['properties', 'set', 'latchkey.cimd.allowed_domains', '<host,*.example.com>']),
      link: '#/properties/latchkey.cimd.allowed_domains',
      target: 'latchkey.cimd.allow_unknown_domains',
    },
  ];
}

/**
 * `open_registration_unlimited`: dynamic client registration is open (latchkey.registration.mode)
 * and nothing limits how many clients one address registers (latchkey.rate_limit.registration is
 * 0): anyone can fill the registry with applications (each a row, a consent-page name, a posture
 * entry) as fast as they can send requests. Reaping removes unused ones only after the period.
 */
export function openRegistration(s: Snapshot): Finding[] {
  if (s.props['latchkey.registration.mode'] !== 'open' || s.props['latchkey.rate_limit.registration'] > 0) return [];
  return [
    {
      id: 'open_registration_unlimited',
      severity: 'warning',
      title: 'Open dynamic client registration without a rate limit',
      detail:
        'latchkey.registration.mode is open and latchkey.rate_limit.registration is 0: anyone can register clients at POST /oauth/register without an initial access token, as many and as fast as they send requests (each becomes an application). Unused registrations are reaped only after latchkey.registration.reap_after_days.',
      fix: 'Limit registrations per source address (the command), or require initial access tokens (latchkey.registration.mode token, `latchkey registration tokens create`).',
      command: commandLine(['properties', 'set', 'latchkey.rate_limit.registration', '20']),
      link: '#/properties/latchkey.rate_limit.registration',
      target: 'latchkey.registration.mode',
    },
  ];
}
