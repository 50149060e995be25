import { isPropertyName } from '../registry/properties.js';

/**
 * The console route (hash route) of the setting a refusal reason names (src/errors/reasons.ts
 * `setting`), so the console can link a refusal straight to what fixes it. `context` narrows the
 * link to the application or user the refusal was about. Undefined for settings outside the
 * console (environment variables).
 */
export function settingLink(setting: string | undefined, context: { clientId?: string | null; userName?: string | null } = {}): string | undefined {
  if (setting === undefined) return undefined;
  if (isPropertyName(setting)) return `#/properties?name=${encodeURIComponent(setting)}`;
  const app = context.clientId ? `#/applications/${encodeURIComponent(context.clientId)}` : '#/applications';
  const user = context.userName ? `#/users?name=${encodeURIComponent(context.userName)}` : '#/users';
  if (setting.startsWith('application.')) return app;
  if (setting.startsWith('user.')) return user;
  if (setting.startsWith('identity_provider.')) return '#/idps';
  if (setting.startsWith('api.')) return '#/apis';
  const commands: Record<string, string> = {
    'latchkey apps list': '#/applications',
    'latchkey apps rotate-secret': app,
    'latchkey idps add': '#/idps',
    'latchkey keys list': '#/keys',
    'latchkey tokens revoke': '#/tokens',
    'latchkey users create': '#/users',
  };
  return commands[setting];
}
