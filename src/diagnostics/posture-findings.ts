import { commandLine, placeholder } from '../core/shell.js';
import { appLink } from '../domain/labels.js';
import type { Application, Refusal } from '../domain/model.js';
import { ALL_ACCESS_SCOPE } from '../registry/scopes.js';
import { SECRET_ROTATION_PROPERTY } from './checks-credentials.js';
import type { ApplicationPosture } from './posture.js';

/** The findings of one application's posture (diagnostics/posture.ts), each with the command that fixes it. */

export type PostureSeverity = 'error' | 'warning' | 'info';
export const SEVERITY_RANK: Readonly<Record<PostureSeverity, 0 | 1 | 2>> = { error: 0, warning: 1, info: 2 };

/** In the order they are listed within a severity. */
export const POSTURE_FINDING_IDS = ['dormant', 'would_refuse', 'all_access_scope', 'secret_rotation_due', 'refused', 'scopes_unused', 'weak_authentication'] as const;
export type PostureFindingId = (typeof POSTURE_FINDING_IDS)[number];

export interface PostureFinding {
  readonly id: PostureFindingId;
  readonly severity: PostureSeverity;
  readonly title: string;
  /** What is wrong, with the figures. */
  readonly detail: string;
  /** What to change, in words. */
  readonly fix: string;
  /** The CLI command that fixes it (or shows what to fix); placeholders in <angle brackets> only where the operator must choose. */
  readonly command?: string;
  /** The console route where it is changed. */
  readonly link: string;
}

export interface FindingContext {
  readonly dormantDays: number;
  readonly rotationDays: number;
  readonly countingSince: number | null;
  /** The client's latest recorded refusal of the last 7 days, if any. */
  readonly latestRefusal: Refusal | undefined;
}

type Figures = Omit<ApplicationPosture, 'findings' | 'worst'>;

const iso = (ms: number) => new Date(ms).toISOString();
const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;
/** Scopes that reach more than one API's data: the all-access scope and the admin API's. */
const BROAD_SCOPES: readonly string[] = [ALL_ACCESS_SCOPE, 'latchkey.admin'];

export function sortPostureFindings(findings: readonly PostureFinding[]): PostureFinding[] {
  return [...findings].sort((a, b) => SEVERITY_RANK[a.severity] - SEVERITY_RANK[b.severity] || POSTURE_FINDING_IDS.indexOf(a.id) - POSTURE_FINDING_IDS.indexOf(b.id));
}

export function postureFindings(app: Application, p: Figures, c: FindingContext): PostureFinding[] {
  if (!app.active) return [];
  return [...dormant(app, p, c), ...wouldRefuse(app, p), ...allAccess(app, p), ...rotation(app, p, c), ...refused(app, p, c), ...unusedScopes(app, p), ...weakAuthentication(app, p)];
}

function dormant(app: Application, p: Figures, c: FindingContext): PostureFinding[] {
  if (!p.dormant) return [];
  const since = p.lastUseAt === null ? `none counted since ${iso(Math.max(app.createdAt, c.countingSince ?? app.createdAt))}` : `last use ${iso(p.lastUseAt)}`;
  const secret = p.secret !== null;
  return [
    {
      id: 'dormant',
      severity: secret && p.allAccess ? 'error' : secret ? 'warning' : 'info',
      title: secret ? 'A dormant application whose secret still works' : 'A dormant application',
      detail:
        `No token issued and no API call admitted for ${plural(p.idleDays, 'day')} (${since}); latchkey.posture.dormant_days is ${c.dormantDays}.` +
        (secret ? ' Its client secret still works: a credential nobody watches.' : '') +
        (p.allAccess ? ` It is allowed ${ALL_ACCESS_SCOPE}: that secret reaches every API.` : ''),
      fix: 'Deactivate it: every request with its credentials is refused at once, and --active true restores it. Delete it once nobody claims it.',
      command: commandLine(['apps', 'update', app.clientId, '--active', 'false']),
      link: appLink(app),
    },
  ];
}

function wouldRefuse(app: Application, p: Figures): PostureFinding[] {
  return p.wouldRefuse.map((w) => ({
    id: 'would_refuse' as const,
    severity: 'warning' as const,
    title: 'A report-only rule would refuse this application',
    detail: `Rule ${w.ruleId} (${w.kind} ${w.target}, report only) would have refused ${plural(w.count, 'request')} of this application in 30 days (the latest at ${iso(w.lastAt)}, ${w.reason}). Enforcing the rule now breaks it.`,
    fix: 'Read what the latest request lacks, and give the application that before the rule is enforced.',
    command: commandLine(['explain', w.latestRequestId]),
    link: `#/refusals?view=requests&client=${encodeURIComponent(app.clientId)}`,
  }));
}

function allAccess(app: Application, p: Figures): PostureFinding[] {
  if (!p.allAccess) return [];
  const rest = app.scopes.filter((s) => s !== ALL_ACCESS_SCOPE);
  const calls = p.scopes.find((s) => s.scope === ALL_ACCESS_SCOPE)?.calls30Days ?? 0;
  return [
    {
      id: 'all_access_scope',
      severity: 'warning',
      title: `Allowed the all-access scope ${ALL_ACCESS_SCOPE}`,
      detail:
        `Application ${app.name} is allowed ${ALL_ACCESS_SCOPE}, which satisfies every API's scope requirement: its tokens reach every API its user can.` +
        (calls > 0 ? ` ${plural(calls, 'API call')} in 30 days ${calls === 1 ? 'was' : 'were'} admitted by it alone: give the application the scopes those APIs require first (latchkey apis list shows them).` : ' No API call in 30 days needed it.'),
      fix: `Remove ${ALL_ACCESS_SCOPE}, keeping the application's other scopes (--scopes replaces the list).`,
      command: commandLine(['apps', 'update', app.clientId, '--scopes', rest.join(',')]),
      link: appLink(app),
    },
  ];
}

function rotation(app: Application, p: Figures, c: FindingContext): PostureFinding[] {
  if (p.secret === null || !p.secret.rotationDue) return [];
  return [
    {
      id: 'secret_rotation_due',
      severity: 'warning',
      title: 'The client secret is due for rotation',
      detail: `The client secret was set ${plural(p.secret.ageDays, 'day')} ago (${iso(p.secret.setAt)}); ${SECRET_ROTATION_PROPERTY} is ${c.rotationDays}.`,
      fix: 'Rotate the secret and give the new one to the application (the old one stops working at once).',
      command: commandLine(['apps', 'rotate-secret', app.clientId]),
      link: appLink(app),
    },
  ];
}

function refused(app: Application, p: Figures, c: FindingContext): PostureFinding[] {
  if (p.refusals.last7Days === 0) return [];
  const used = p.tokens.last7Days + p.calls.last7Days;
  const latest = c.latestRefusal;
  return [
    {
      id: 'refused',
      severity: used === 0 ? 'warning' : 'info',
      title: used === 0 ? 'Refused, and not used once, in 7 days' : 'Refused requests in 7 days',
      detail:
        `${plural(p.refusals.last7Days, 'request')} of this application refused in 7 days, beside ${plural(p.tokens.last7Days, 'token')} issued and ${plural(p.calls.last7Days, 'API call')} admitted.` +
        (latest === undefined ? ' None was recorded one by one (only counted).' : ` The latest: ${latest.reason} at ${iso(latest.at)}.`),
      fix: latest === undefined ? 'Watch the Refusals page for its next refusal and explain it.' : 'Explain the latest refusal: what the request lacked and the setting that fixes it.',
      ...(latest === undefined ? {} : { command: commandLine(['explain', latest.requestId]) }),
      link: `#/refusals?client=${encodeURIComponent(app.clientId)}`,
    },
  ];
}

function unusedScopes(app: Application, p: Figures): PostureFinding[] {
  if (p.unusedScopes.length === 0) return [];
  const used = app.scopes.filter((s) => !p.unusedScopes.includes(s));
  const broad = p.unusedScopes.filter((s) => BROAD_SCOPES.includes(s));
  return [
    {
      id: 'scopes_unused',
      severity: broad.length > 0 ? 'warning' : 'info',
      title: 'Allowed scopes unused for 30 days',
      detail: `No token issued to it carried ${p.unusedScopes.join(', ')} and no API call needed ${p.unusedScopes.length === 1 ? 'it' : 'them'} in 30 days${broad.length > 0 ? ` (${broad.join(', ')} reaching more than one API)` : ''}.`,
      fix: 'Allow only the scopes it uses (--scopes replaces the list); add one back when it needs it.',
      command: commandLine(['apps', 'update', app.clientId, '--scopes', used.join(',')]),
      link: appLink(app),
    },
  ];
}

function weakAuthentication(app: Application, p: Figures): PostureFinding[] {
  if (p.authentication.strength !== 'secret' || !app.grantTypes.includes('client_credentials')) return [];
  return [
    {
      id: 'weak_authentication',
      severity: 'info',
      title: 'Authenticates with a shared secret only',
      detail: `Application ${app.name} gets tokens with client_credentials and proves itself with a client secret, sent with every request. A private key (private_key_jwt, RFC 7523) never leaves the application: strength none < secret < private_key_jwt.`,
      fix: 'Register its public keys; it can then authenticate with private_key_jwt.',
      command: commandLine(['apps', 'update', app.clientId, '--jwks', placeholder('jwks-file')]),
      link: appLink(app),
    },
  ];
}
