import type { Command } from 'commander';
import { listProperties, setProperty } from '../../registry/settings.js';
import { RULE_PROPERTIES, RULE_PROPERTY_NAMES } from '../../registry/rules.js';
import type { PropertyName } from '../../registry/properties.js';
import { commandLine } from '../../core/shell.js';
import { renderTable } from '../table.js';
import type { CommonOptions, Kit } from './index.js';

function registerSet(properties: Command, kit: Kit): void {
  const cmd = properties
    .command('set')
    .argument('<name>', 'property name (see `latchkey properties list`)')
    .argument('<value>', 'true/false for boolean properties, a whole number for integer ones')
    .description('Set an instance property; running servers pick it up within a second')
    .addHelpText('after', `
Example:
  latchkey properties set glide.oauth.inbound.client.credential.grant_type.enabled true

Switches that refuse requests at once when set to the value shown; to see who they would refuse
before anyone is refused, add them as a report-only rule instead (docs/rules.md):
${RULE_PROPERTY_NAMES.map((n) => `  ${n} ${String(RULE_PROPERTIES[n]?.refusing)}`).join('\n')}
  latchkey rules add property latchkey.api.basic_auth.enabled --value false
`);
  kit.common(cmd).action((name: string, raw: string, opts: CommonOptions) =>
    kit.withDb(opts, async (ctx, out) => {
      const before = (await listProperties(ctx)).find((p) => p.name === name);
      const value = await setProperty(ctx, name, raw);
      const previous = before?.value ?? null;
      const isDefault = before !== undefined && value === before.default;
      const refusing = RULE_PROPERTIES[name as PropertyName];
      const tip =
        refusing !== undefined && value === refusing.refusing && previous !== value
          ? `This refuses ${refusing.refuses} from now on. Next time, see who it would refuse first: ${commandLine(['rules', 'add', 'property', name, '--value', String(value)])}\n`
          : '';
      out.result({ name, value, previous, default: before?.default ?? null, isDefault }, () =>
        `${name} = ${String(value)} (was ${String(previous)}${isDefault ? '; this is the default' : ''})\n${tip}`,
      );
    }),
  );
}

function registerList(properties: Command, kit: Kit): void {
  const cmd = properties.command('list').description('List instance properties with their values, defaults and meaning');
  kit.common(cmd).action((opts: CommonOptions) =>
    kit.withDb(opts, async (ctx, out) => {
      const list = await listProperties(ctx);
      out.result(list, () => {
        const rows = list.map((p) => [p.name, `${String(p.value)}${p.isDefault ? '' : ' *'}`, String(p.default), p.type, p.description]);
        const changed = list.some((p) => !p.isDefault);
        return renderTable(['NAME', 'VALUE', 'DEFAULT', 'TYPE', 'DESCRIPTION'], rows) + (changed ? '\n* changed from the default\n' : '');
      });
    }),
  );
}

export function registerProperties(program: Command, kit: Kit): void {
  const properties = program.command('properties').description('Instance-wide settings (sys_properties), under the platform\'s names');
  registerSet(properties, kit);
  registerList(properties, kit);
}
