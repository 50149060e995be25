import type { Command } from 'commander';
import { handleIn } from '../../core/crypto.js';
import { isReasonCode, REASONS, type ReasonInfo } from '../../errors/reasons.js';
import type { Refusal } from '../../domain/model.js';
import { CliError } from '../context.js';
import { isoTime, renderRecord } from '../table.js';
import type { CommonOptions, Kit } from './index.js';

function catalogueEntry(reason: string): ReasonInfo | undefined {
  return isReasonCode(reason) ? REASONS[reason] : undefined;
}

function explainText(r: Refusal, info: ReasonInfo | undefined): string {
  const record = renderRecord([
    ['Request id', r.requestId],
    ['Time', isoTime(r.at)],
    ['Endpoint', r.endpoint],
    ['Status', r.status],
    ['Error', r.error],
    ['Reason code', r.reason],
    ['Told the client', r.description],
    ['Client id', r.clientId],
    ['Application', r.applicationName],
    ['User', r.userName],
    ['Token', handleIn(r.hint) ?? null],
    ['Remote address', r.remoteAddress],
    ['Admin hint', r.hint],
  ]);
  if (info === undefined) return `${record}\nReason ${r.reason} is not in this version's catalogue (see \`latchkey reasons\`).\n`;
  const why = renderRecord([
    ['What happened', info.explanation],
    ['Fix', info.fix],
    ['Setting', info.setting ?? null],
  ]);
  return `${record}\n${why}`;
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
            `Refusals are kept for 30 days; a request refused before it authenticated, while more than latchkey.refusals.anonymous_per_minute such refusals arrived in its minute, was only counted (console: Activity, unrecorded refusals).`,
        );
      }
      const info = catalogueEntry(refusal.reason);
      const value = { ...refusal, at: isoTime(refusal.at), token: handleIn(refusal.hint) ?? null, explanation: info?.explanation ?? null, fix: info?.fix ?? null, setting: info?.setting ?? null };
      out.result(value, () => explainText(refusal, info));
    }),
  );
}
