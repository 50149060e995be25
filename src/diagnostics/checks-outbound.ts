import { policyOf } from '../registry/outbound-policy.js';
import { checkOutboundUrl, type OutboundPolicy } from '../outbound/url.js';
import type { IdentityProvider } from '../domain/model.js';
import { appLabel, appLink, commandLine, type Finding, type Snapshot } from './findings.js';

/**
 * Stored JWKS URIs and metadata URLs that the outbound rules (src/outbound) refuse under the
 * current setting: every assertion or token that needs them is refused (outbound.refused). This
 * can happen when the URL was registered while latchkey.outbound.allow_private_networks was true
 * and the property was switched off since, or when it was stored before the rules existed. Only
 * the checks that need no network are made here (scheme, an IP literal, a loopback name): a host
 * name that resolves to a private address is found by `latchkey idps check` and at fetch time.
 */

function refusal(url: string, policy: OutboundPolicy): string | undefined {
  const checked = checkOutboundUrl(url, policy);
  return 'refused' in checked ? checked.refused : undefined;
}

function applicationUrls(s: Snapshot, policy: OutboundPolicy): Finding[] {
  const out: Finding[] = [];
  for (const app of s.active) {
    if (app.jwksUri === null) continue;
    const why = refusal(app.jwksUri, policy);
    if (why === undefined) continue;
    out.push({
      id: 'outbound_url_refused',
      severity: 'error',
      title: 'A JWKS URI is refused by the outbound rules',
      detail: `Application ${appLabel(app)} has the JWKS URI ${app.jwksUri}, which this server will not fetch: ${why}. Its client assertions and JWT bearer grants are refused (outbound.refused).`,
      fix: 'Register the public https URL where the application publishes its keys (or its JWKS itself with --jwks).',
      command: commandLine(['apps', 'update', app.clientId, '--jwks-uri', '<https-url>']),
      link: appLink(app),
      target: app.clientId,
    });
  }
  return out;
}

/**
 * Back-Channel Logout 1.0: a backchannel_logout_uri the outbound rules refuse gets no logout token
 * when a session ends (the application keeps its user signed in). It was allowed when registered,
 * so the setting changed since (latchkey.outbound.allow_private_networks switched off).
 */
function backchannelUrls(s: Snapshot, policy: OutboundPolicy): Finding[] {
  const out: Finding[] = [];
  for (const app of s.active) {
    const uri = app.backchannelLogoutUri ?? null;
    if (uri === null) continue;
    const why = refusal(uri, policy);
    if (why === undefined) continue;
    out.push({
      id: 'backchannel_logout_uri_refused',
      severity: 'warning',
      title: 'A back-channel logout URI is refused by the outbound rules',
      detail: `Application ${appLabel(app)} has the back-channel logout URI ${uri}, which this server will not call: ${why}. When a user signs out, the application is not told, and keeps its own session of the user.`,
      fix: 'Register the public https URL of its back-channel logout endpoint (or remove it with --backchannel-logout-uri "").',
      command: commandLine(['apps', 'update', app.clientId, '--backchannel-logout-uri', '<https-url>']),
      link: appLink(app),
      target: app.clientId,
    });
  }
  return out;
}

function providerUrls(providers: readonly IdentityProvider[], policy: OutboundPolicy): Finding[] {
  const out: Finding[] = [];
  for (const p of providers) {
    if (!p.active) continue;
    const [flag, url] = p.metadataUrl !== null ? (['--metadata-url', p.metadataUrl] as const) : (['--jwks-uri', p.jwksUri ?? ''] as const);
    const why = refusal(url, policy);
    if (why === undefined) continue;
    out.push({
      id: 'outbound_url_refused',
      severity: 'error',
      title: `An identity provider's ${p.metadataUrl !== null ? 'metadata URL' : 'JWKS URI'} is refused by the outbound rules`,
      detail: `Identity provider "${p.name}" has the ${p.metadataUrl !== null ? 'metadata URL' : 'JWKS URI'} ${url}, which this server will not fetch: ${why}. Every token it issues is refused on our APIs (outbound.refused).`,
      fix: 'Register the provider\'s public https address.',
      command: commandLine(['idps', 'update', p.name, flag, '<https-url>']),
      link: '#/idps',
      target: p.name,
    });
  }
  return out;
}

export function outboundUrls(s: Snapshot, providers: readonly IdentityProvider[]): Finding[] {
  const policy = policyOf(s.props);
  return [...applicationUrls(s, policy), ...backchannelUrls(s, policy), ...providerUrls(providers, policy)];
}
