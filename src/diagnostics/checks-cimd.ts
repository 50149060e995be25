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
