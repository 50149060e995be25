/**
 * `latchkey devices list|deny`: device authorizations (RFC 8628) waiting for a user to enter
 * their code on /oauth/device (src/registry/device-authorizations.ts), as the admin API
 * (/device-authorizations) and the console's Devices page show them.
 */
import type { Command } from 'commander';
import { commandLine } from '../../core/shell.js';
import { denyDevice, deviceView, listPendingDevices, type PendingDevice } from '../../registry/device-authorizations.js';
import { confirmDelete, type CliContext } from '../context.js';
import { dbArguments } from '../next-steps.js';
import { renderTable, terminalWidth } from '../table.js';
import type { CommonOptions, Kit } from './index.js';

interface YesOptions extends CommonOptions {
  readonly yes?: boolean;
}


function nextStep(ctx: CliContext, words: readonly string[], comment: string): string {
  const { flag, note } = dbArguments(ctx.db);
  return `\nNext step:\n${note === undefined ? '' : `  # ${note}\n`}  # ${comment}\n  ${commandLine(words)}${flag}\n`;
}

export function registerDevices(program: Command, kit: Kit): void {
  const devices = program
    .command('devices')
    .description('Device authorizations (RFC 8628) waiting for a user to enter their code on /oauth/device: list, deny')
    .addHelpText('after', `
A device (a CLI, a TV, a CI runner) asks POST /oauth/device_authorization for a
user code, shows it, and polls the token endpoint while a person types the code
on /oauth/device and allows it. Until then the authorization is pending: listed
here by its id (codes are stored as hashes only and are never shown). Denying
one makes the device's next poll get access_denied.

Examples:
  latchkey devices list
  latchkey devices deny <id>
  latchkey login --device --issuer https://auth.example.com --client-id <client-id>
`);

  const list = devices.command('list').description('Pending device authorizations, newest first (at most 100): application, scopes, expiry, polling interval, last poll');
  kit.common(list).action((opts: CommonOptions) =>
    kit.withDb(opts, async (ctx, out) => {
      const pending = await listPendingDevices(ctx);
      out.result(pending.map(deviceView), () => {
        if (pending.length === 0) return 'No device authorization is waiting for a user.\n';
        const now = ctx.clock.now();
        const rows = pending.map((d) => [
          d.id,
          d.applicationName ?? '(deleted application)',
          d.scopes.length === 0 ? '-' : d.scopes.join(' '),
          `${Math.max(0, Math.round((d.expiresAt - now) / 1000))} s`,
          `${d.intervalSeconds} s`,
          d.lastPollAt === null ? 'never' : `${Math.max(0, Math.round((now - d.lastPollAt) / 1000))} s ago`,
        ]);
        const first = pending[0] as PendingDevice;
        return `${renderTable(['ID', 'APPLICATION', 'SCOPES', 'EXPIRES IN', 'INTERVAL', 'LAST POLL'], rows, terminalWidth(), { whole: [0] })}${nextStep(ctx, ['devices', 'deny', first.id], 'deny one (its device gets access_denied)')}`;
      });
    }),
  );

  const deny = devices
    .command('deny')
    .argument('<id>', 'the id shown by `latchkey devices list`')
    .option('-y, --yes', 'do not ask for confirmation')
    .description('Deny a pending device authorization: the device polling for it gets access_denied (audited as device.denied)');
  kit.common(deny).action((id: string, opts: YesOptions) =>
    kit.withDb(opts, async (ctx, out) => {
      await confirmDelete(kit.io, opts.yes, `Deny the device authorization ${id}?`);
      await denyDevice(ctx, id);
      out.result({ id, denied: true }, `Device authorization ${id} denied: its next poll gets access_denied.\n`);
    }),
  );
}
