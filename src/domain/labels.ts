import type { Application } from './model.js';

/** How findings, warnings and hints name an application: its name and client id. */
export const appLabel = (app: Pick<Application, 'name' | 'clientId'>) => `"${app.name}" (client id ${app.clientId})`;
/** The console route of an application. */
export const appLink = (app: Pick<Application, 'clientId'>) => `#/applications/${encodeURIComponent(app.clientId)}`;
