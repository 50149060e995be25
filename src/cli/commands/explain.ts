import type { Command } from 'commander';
import { explainRefusal, factLabel, factText, type Explanation } from '../../diagnostics/explain.js';
import { CliError } from '../context.js';
import { renderRecord } from '../table.js';
import type { CommonOptions, Kit } from './index.js';

/** The explanation as `latchkey explain` prints it: the request, what happened with the facts of the case, the fix. */
export function explainText(e: Explanation): string {
  const record = renderRecord([
    ['Request id', e.requestId],
    ['Time', e.at],
    ['Outcome', e.outcome === 'refused' ? 'refused' : `would be refused by report-only rule ${e.rule?.id ?? String(e.facts.rule)} (the request succeeded)`],
    ['Endpoint', e.endpoint],
    ['Status', e.status],
    ['Error', e.error],
    ['Reason code', e.reason],
    ['Told the client', e.description],
    ['Client id', e.clientId],
    ['Application', e.applicationName],
    ['User', e.userName],
    ['Token', e.token],
    ['Remote address', e.remoteAddress],
    ['Admin hint', e.hint],
  ]);
  if (e.explanation === null) return `${record}\nReason ${e.reason} is not in this version's catalogue (see \`latchkey reasons\`).\n`;
  const facts = Object.entries(e.facts);
  const why = renderRecord([['What happened', e.explanation], ['Fix', e.fix], ['Setting', e.setting]]);
  const shown = facts.length === 0 ? '' : `\nFacts of this case\n${renderRecord(facts.map(([name, value]) => [`  ${factLabel(name)}`, factText(value)] as const))}`;
  return `${record}\n${why}${shown}`;
}

export function registerExplain(program: Command, kit: Kit): void {
  const cmd = program
    .command('explain')
    .argument('<request-id>', 'the request id of a refused request (the X-Request-Id response header)')
    .description('Explain why a request was refused: what the client was told, the reason code, and what to change')
    .addHelpText('after', `
Example:
  curl -si -d grant_type=client_credentials http://localhost:8080/oauth_token.do | grep -i x-request-id
  latchkey explain <request-id>
`);
  kit.common(cmd).action((requestId: string, opts: CommonOptions) =>
    kit.withDb(opts, async (ctx, out) => {
      const refusal = await ctx.storage.refusals.byRequestId(requestId);
      if (refusal === undefined) {
        throw new CliError(
          `No refusal was recorded with request id "${requestId}". Take the id from the X-Request-Id header of a refused response, and use the same --db as the server. ` +
            `Refusals are kept for 30 days; a request refused before it authenticated, while more than latchkey.refusals.anonymous_per_minute such refusals arrived in its minute, was only counted (console: Activity, unrecorded refusals). ` +
            `A 503 temporarily_unavailable answer is not a refusal and is never recorded: the database could not be reached, so nothing was decided; the server's log has "storage unavailable" with this request id, and latchkey doctor and GET /readyz show the database's state.`,
        );
      }
      const explanation = await explainRefusal({ storage: ctx.storage, supportedGrants: kit.grants.map((g) => g.grantType) }, refusal);
      out.result(explanation, () => explainText(explanation));
    }),
  );
}
