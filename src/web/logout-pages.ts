import { html, type SafeHtml } from './html.js';

/**
 * The pages of the end-session endpoint (RP-Initiated Logout 1.0): the confirmation ("Sign out of
 * Latchkey?"), "You are signed out", "You are still signed in", and the error page for a request
 * that cannot be honoured. Content only; layout and security headers come from page.ts.
 */

/** The confirmation form's fields: ours carry `lk_`, the logout request's parameters keep their names. */
export const LOGOUT_FIELD = {
  action: 'lk_action',
  csrf: 'lk_csrf',
  decision: 'decision',
} as const;

/** The logout request's parameters the confirmation form carries back (checked again on POST). */
export const LOGOUT_PARAMETERS = ['id_token_hint', 'logout_hint', 'client_id', 'post_logout_redirect_uri', 'state', 'ui_locales'] as const;
export type LogoutParameter = (typeof LOGOUT_PARAMETERS)[number];

export const LOGOUT_ACTION = 'logout';

function hidden(name: string, value: string): SafeHtml {
  return html`<input type="hidden" name="${name}" value="${value}">`;
}

export interface LogoutConfirmView {
  readonly action: string;
  readonly csrf: string;
  readonly userName: string;
  /** The application that asked (null: none named). */
  readonly appName: string | null;
  readonly params: Readonly<Partial<Record<LogoutParameter, string>>>;
}

export function logoutConfirmContent(view: LogoutConfirmView): SafeHtml {
  const carried = LOGOUT_PARAMETERS.flatMap((name) => (view.params[name] === undefined ? [] : [hidden(name, view.params[name] ?? '')]));
  return html`<h1 id="logout-title">Sign out of Latchkey?</h1>
<p class="muted">Signed in as <strong>${view.userName}</strong></p>
<p>${view.appName === null ? 'Signing out ends your Latchkey session in this browser.' : html`${view.appName} asks to sign you out. Signing out ends your Latchkey session in this browser.`} The applications you signed in to through it are told so.</p>
<form method="post" action="${view.action}" aria-labelledby="logout-title">
${hidden(LOGOUT_FIELD.action, LOGOUT_ACTION)}${hidden(LOGOUT_FIELD.csrf, view.csrf)}${carried}
<div class="actions">
<button type="submit" name="${LOGOUT_FIELD.decision}" value="stay">Stay signed in</button>
<button type="submit" name="${LOGOUT_FIELD.decision}" value="sign_out" class="primary">Sign out</button>
</div>
</form>`;
}

export function signedOutContent(): SafeHtml {
  return html`<h1>You are signed out</h1>
<p>Your Latchkey session in this browser has ended. You can close this window.</p>`;
}

export function stillSignedInContent(userName: string): SafeHtml {
  return html`<h1>You are still signed in</h1>
<p class="muted">Signed in as <strong>${userName}</strong></p>
<p>Nothing was changed. You can close this window, or go back to the application.</p>`;
}

export interface LogoutErrorView {
  readonly message: string;
  readonly requestId: string;
}

export function logoutErrorContent(view: LogoutErrorView): SafeHtml {
  return html`<h1>This sign-out request cannot be completed</h1>
<p class="alert" role="alert">${view.message}</p>
<p>You were not sent back to the application. If you meant to sign out, go back to it and try again; if this keeps happening, tell its administrator.</p>
<p class="muted">Request id: <code>${view.requestId}</code></p>`;
}
