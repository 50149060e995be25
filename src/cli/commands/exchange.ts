/**
 * `latchkey exchange policies list|show|set|remove`: the token exchange policies (RFC 8693,
 * src/grants/token-exchange.ts, src/registry/exchange-policies.ts). An application without one
 * may not exchange tokens.
 */
import type { Command } from 'commander';
import { DEFAULTS, parseIssuer } from '../../config/config.js';
import { commandLine, shellCommand } from '../../core/shell.js';
import type { ExchangePolicy } from '../../domain/model.js';
import { TOKEN_EXCHANGE_GRANT } from '../../grants/grant-type.js';
import { TOKEN_TYPE } from '../../grants/token-exchange.js';
import { describeExchangePolicy, EXCHANGE_ANY, EXCHANGE_SELF, findExchangePolicy, removeExchangePolicy, setExchangePolicy, type ExchangePolicyInput } from '../../registry/exchange-policies.js';
import { confirmDelete, parseBool, parseList, type CliContext } from '../context.js';
import { dbArguments } from '../next-steps.js';
import { isoTime, renderRecord, renderTable, terminalWidth } from '../table.js';
import type { CommonOptions, Kit } from './index.js';

const DEFAULT_ISSUER = `http://${DEFAULTS.host}:${DEFAULTS.port}`;

interface SetOptions extends CommonOptions {
  readonly subjectApps?: string;
  readonly idps?: string;
  readonly idTokens?: string;
  readonly resources?: string;
  readonly scopes?: string;
  readonly impersonation?: string;
  readonly issuer?: string;
}

interface YesOptions extends CommonOptions {
  readonly yes?: boolean;
}

function steps(ctx: CliContext, lines: readonly (readonly [readonly string[], string])[]): string {
  const { flag, note } = dbArguments(ctx.db);
  const body = lines.map(([words, comment]) => `  # ${comment}\n  ${commandLine(words)}${flag}`);
  return `\nNext steps:\n${note === undefined ? '' : `  # ${note}\n`}${body.join('\n')}\n`;
}

/** A list flag: comma-separated; "none" (or '') for an empty list. */
function listFlag(raw: string | undefined): string[] | undefined {
  if (raw === undefined) return undefined;
  if (raw.trim() === '' || raw.trim().toLowerCase() === 'none') return [];
  return parseList(raw) ?? [];
}

function policyJson(p: ExchangePolicy) {
  return { ...p, summary: describeExchangePolicy(p.spec) };
}

const cell = (values: readonly string[]) => (values.length === 0 ? 'none' : values.includes(EXCHANGE_ANY) ? 'any' : values.join(','));

function policyRecord(p: ExchangePolicy): string {
  return renderRecord([
    ['Application', p.clientId],
    ...describeExchangePolicy(p.spec).map((line) => {
      const at = line.indexOf(': ');
      return [line.slice(0, at), line.slice(at + 2)] as const;
    }),
    ['Created', isoTime(p.createdAt)],
    ['Updated', isoTime(p.updatedAt)],
  ]);
}

/** The curl of an exchange by the application (delegation: a subject and an actor token). */
function curlExample(issuer: string, p: ExchangePolicy): string {
  return shellCommand([
    'curl', '-s', '-u', `${p.clientId}:<client-secret>`, `${issuer}/oauth/token`,
    '-d', `grant_type=${TOKEN_EXCHANGE_GRANT}`,
    '-d', 'subject_token=<the user\'s access token>', '-d', `subject_token_type=${TOKEN_TYPE.accessToken}`,
    ...(p.spec.impersonation ? [] : ['-d', 'actor_token=<your own access token>', '-d', `actor_token_type=${TOKEN_TYPE.accessToken}`]),
    ...(p.spec.resources.length > 0 && !p.spec.resources.includes(EXCHANGE_ANY) ? ['-d', `resource=${p.spec.resources[0] ?? ''}`] : []),
  ]);
}

export function registerExchange(program: Command, kit: Kit): void {
  const exchange = program
    .command('exchange')
    .description('Token exchange (RFC 8693): per-application policies of which tokens may be exchanged, for which resources and scopes')
    .addHelpText('after', `
An application allowed the grant ${TOKEN_EXCHANGE_GRANT}
(alias token_exchange) trades a user's token (subject_token) for a narrower
one: for another resource, with fewer scopes, never living longer. With an
actor_token the new token names who acts for the user (the act claim:
delegation); without one it is the user's own (impersonation), only where
the policy allows it. An application without a policy may not exchange.

Examples:
  latchkey apps update <client-id> --grants client_credentials,token_exchange
  latchkey exchange policies set <client-id> --subject-apps '*' \\
    --resources https://orders.example.com --scopes orders.read
  latchkey exchange policies list
`);
  const policies = exchange.command('policies').description('Token exchange policies, one per application: subject token sources, resources, scopes, impersonation');

  const list = policies.command('list').description('Every token exchange policy');
  kit.common(list).action((opts: CommonOptions) =>
    kit.withDb(opts, async (ctx, out) => {
      const all = await ctx.storage.exchangePolicies.list();
      out.result(all.map(policyJson), () => {
        if (all.length === 0) {
          return `No token exchange policies: no application may exchange tokens.${steps(ctx, [[['exchange', 'policies', 'set', '<client-id>', '--subject-apps', EXCHANGE_ANY, '--scopes', EXCHANGE_ANY, '--resources', EXCHANGE_ANY], 'let an application exchange tokens of any application (delegation only)']])}`;
        }
        const rows = all.map((p) => [p.clientId, cell(p.spec.subjectApplications), cell(p.spec.identityProviders), p.spec.idTokens ? 'yes' : 'no', cell(p.spec.resources), cell(p.spec.scopes), p.spec.impersonation ? 'yes' : 'no']);
        return renderTable(['APPLICATION', 'SUBJECT APPS', 'IDPS', 'ID TOKENS', 'RESOURCES', 'SCOPES', 'IMPERSONATION'], rows, terminalWidth(), { whole: [0] });
      });
    }),
  );

  const show = policies.command('show').argument('<client-id>', 'the application (client id or name)').description('One application\'s token exchange policy in full');
  kit.common(show).action((ref: string, opts: CommonOptions) =>
    kit.withDb(opts, async (ctx, out) => {
      const p = await findExchangePolicy(ctx, ref);
      out.result(policyJson(p), () => policyRecord(p));
    }),
  );

  const set = policies
    .command('set')
    .argument('<client-id>', 'the application (client id or name)')
    .description('Create an application\'s token exchange policy, or change the fields given')
    .option('--subject-apps <list>', `client ids whose access tokens (and ID tokens) it may exchange; ${EXCHANGE_SELF}: its own; ${EXCHANGE_ANY}: any; none`)
    .option('--idps <list>', `identity provider names whose JWTs it may exchange; ${EXCHANGE_ANY}: any; none`)
    .option('--id-tokens <bool>', 'whether ID tokens (of the subject apps, or the idps) may be subject tokens')
    .option('--resources <list>', `resource identifiers the new token may be for (resource or audience); ${EXCHANGE_ANY}: any the application may request; none`)
    .option('--scopes <list>', `scopes the new token may carry (always within the subject token's); ${EXCHANGE_ANY}: any`)
    .option('--impersonation <bool>', 'allow exchanges without an actor_token (the new token is the user\'s, with no act claim); default false: delegation only')
    .option('--issuer <url>', `the instance's public URL, for the curl example (env LATCHKEY_ISSUER, default ${DEFAULT_ISSUER})`)
    .addHelpText('after', `
A list given replaces the policy's ("none" empties it); a field left out stays
as it was. A new policy allows nothing until given sources, resources and scopes.

Examples:
  latchkey exchange policies set orders-agent --subject-apps web-app \\
    --resources https://orders.example.com --scopes orders.read
  latchkey exchange policies set gateway --idps corp-sso --id-tokens true \\
    --resources '*' --scopes '*' --impersonation true
`);
  kit.common(set).action((ref: string, opts: SetOptions) =>
    kit.withDb(opts, async (ctx, out) => {
      const input: ExchangePolicyInput = {
        subjectApplications: listFlag(opts.subjectApps),
        identityProviders: listFlag(opts.idps),
        idTokens: opts.idTokens === undefined ? undefined : parseBool('--id-tokens', opts.idTokens),
        resources: listFlag(opts.resources),
        scopes: listFlag(opts.scopes),
        impersonation: opts.impersonation === undefined ? undefined : parseBool('--impersonation', opts.impersonation),
      };
      const { policy: p, application } = await setExchangePolicy(ctx, ref, input);
      const issuer = parseIssuer(opts.issuer ?? process.env.LATCHKEY_ISSUER ?? DEFAULT_ISSUER);
      out.result(policyJson(p), () => {
        const notAllowed = application.grantTypes.includes(TOKEN_EXCHANGE_GRANT)
          ? ''
          : `\nThe application is not allowed the token exchange grant yet:\n  ${commandLine(['apps', 'update', application.clientId, '--grants', [...application.grantTypes, 'token_exchange'].join(',')])}\n`;
        return `Token exchange policy of ${application.name} (${p.clientId}) saved.\n${policyRecord(p)}${notAllowed}\nNext step: exchange a user's token\n  ${curlExample(issuer, p)}\n`;
      });
    }),
  );

  const remove = policies
    .command('remove')
    .argument('<client-id>', 'the application (client id or name)')
    .option('-y, --yes', 'do not ask for confirmation')
    .description('Delete an application\'s token exchange policy: it may no longer exchange tokens');
  kit.common(remove).action((ref: string, opts: YesOptions) =>
    kit.withDb(opts, async (ctx, out) => {
      const p = await findExchangePolicy(ctx, ref);
      await confirmDelete(kit.io, opts.yes, `Delete the token exchange policy of ${p.clientId}?`);
      await removeExchangePolicy(ctx, p.clientId);
      out.result({ deleted: true, clientId: p.clientId }, `Token exchange policy of ${p.clientId} deleted.\n`);
    }),
  );
}
