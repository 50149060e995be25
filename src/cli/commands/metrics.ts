import type { Command } from 'commander';
import { METRICS_PATH, METRICS_TOKEN_PROPERTY, newMetricsToken } from '../../metrics/endpoint.js';
import { listProperties, setProperty } from '../../registry/settings.js';
import { renderRecord } from '../table.js';
import type { CommonOptions, Kit } from './index.js';

interface TokenOptions extends CommonOptions {
  readonly remove?: boolean;
}

function registerToken(metrics: Command, kit: Kit): void {
  const cmd = metrics
    .command('token')
    .description(`Make a new bearer token for ${METRICS_PATH} and require it from now on (prints it once; only its SHA-256 is stored, in ${METRICS_TOKEN_PROPERTY}); --remove lets scrapes in without one`)
    .option('--remove', 'stop requiring a token (clears the property)')
    .addHelpText('after', `
Examples:
  latchkey metrics token > /etc/prometheus/latchkey.token     # then, in prometheus.yml:
      #   authorization: { type: Bearer, credentials_file: /etc/prometheus/latchkey.token }
  curl -H "Authorization: Bearer $(cat /etc/prometheus/latchkey.token)" http://localhost:8080/metrics
  latchkey metrics token --remove
Running instances require the new token within a second; the previous one stops working.
`);
  kit.common(cmd).action((opts: TokenOptions) =>
    kit.withDb(opts, async (ctx, out) => {
      if (opts.remove === true) {
        await setProperty(ctx, METRICS_TOKEN_PROPERTY, '');
        out.result({ required: false }, `${METRICS_PATH} no longer requires a token (${METRICS_TOKEN_PROPERTY} cleared).\n`);
        return;
      }
      const { token, sha256 } = newMetricsToken();
      await setProperty(ctx, METRICS_TOKEN_PROPERTY, sha256);
      // The token alone on stdout, so `latchkey metrics token > file` writes just the token.
      out.result({ required: true, token, sha256 }, `${token}\n`);
      if (!out.json) out.warn(`this token is shown only once; ${METRICS_PATH} now requires it (Authorization: Bearer <token>). Only its SHA-256 is stored, in ${METRICS_TOKEN_PROPERTY}.`);
    }),
  );
}

function registerShow(metrics: Command, kit: Kit): void {
  const cmd = metrics.command('show').description(`Whether ${METRICS_PATH} is served and whether it requires a token`);
  kit.common(cmd).action((opts: CommonOptions) =>
    kit.withDb(opts, async (ctx, out) => {
      const props = await listProperties(ctx);
      const enabled = props.find((p) => p.name === 'latchkey.metrics.enabled')?.value === true;
      const protectedBy = props.find((p) => p.name === METRICS_TOKEN_PROPERTY)?.value !== '';
      const value = { path: METRICS_PATH, enabled, tokenRequired: protectedBy };
      out.result(value, () =>
        renderRecord([
          ['Path', METRICS_PATH],
          ['Served', enabled ? 'yes' : 'no (latchkey properties set latchkey.metrics.enabled true)'],
          ['Token required', protectedBy ? 'yes (latchkey metrics token makes a new one)' : 'no (latchkey metrics token to require one)'],
          ['Reference', 'docs/metrics.md; Grafana dashboard: deploy/grafana/latchkey.json'],
        ]),
      );
    }),
  );
}

export function registerMetrics(program: Command, kit: Kit): void {
  const metrics = program.command('metrics').description(`The Prometheus endpoint ${METRICS_PATH}: its bearer token and whether it is served`);
  registerToken(metrics, kit);
  registerShow(metrics, kit);
}
