import { html, isDisplayableImageUrl, type SafeHtml } from './html.js';
import type { AppView, ScopeView } from './authorize-pages.js';
import { FIELD } from './authorize-pages.js';

/**
 * The pages of the device flow (RFC 8628 §3.3) on the sign-in UI: enter the user code, then (after
 * the sign-in page of authorize-pages.ts) approve or deny, then the outcome. Same layout, classes
 * and escaping as the authorization pages; content only (page.ts adds the document and headers).
 */

/** The user code field: `user_code`, as verification_uri_complete names it (RFC 8628 §3.3.1). */
export const USER_CODE_FIELD = 'user_code';

export type DeviceFormAction = 'device_code' | 'sign_in' | 'device_consent';

function hidden(name: string, value: string): SafeHtml {
  return html`<input type="hidden" name="${name}" value="${value}">`;
}

function alert(message: string | undefined): SafeHtml | '' {
  return message === undefined ? '' : html`<p class="alert" role="alert">${message}</p>`;
}

function appHeader(app: AppView): SafeHtml {
  const logo = isDisplayableImageUrl(app.logoUri) ? html`<img src="${app.logoUri}" alt="" width="48" height="48">` : '';
  return html`<div class="app">${logo}<span class="name">${app.name}</span></div>`;
}

export interface CodeEntryView {
  readonly action: string;
  readonly csrf: string;
  /** What the field shows: the code from verification_uri_complete, or what was typed. */
  readonly userCode?: string;
  readonly error?: string;
}

export function codeEntryContent(view: CodeEntryView): SafeHtml {
  return html`<h1>Connect a device</h1>
<p class="muted">Enter the code shown on your device or in your terminal.</p>
${alert(view.error)}
<form method="post" action="${view.action}">
${hidden(FIELD.action, 'device_code')}${hidden(FIELD.csrf, view.csrf)}
<label for="user_code">Code</label>
<input type="text" id="user_code" name="${USER_CODE_FIELD}" value="${view.userCode ?? ''}" placeholder="XXXX-XXXX" autocomplete="off" autocapitalize="characters" spellcheck="false" required maxlength="20" autofocus>
<button type="submit" class="primary full">Continue</button>
</form>`;
}

export interface DeviceConsentView {
  readonly app: AppView;
  readonly action: string;
  readonly ticket: string;
  readonly csrf: string;
  readonly userName: string;
  /** The user code, shown XXXX-XXXX, for the user to compare with the device's (RFC 8628 §5.4). */
  readonly userCode: string;
  readonly scopes: readonly ScopeView[];
  readonly resources: readonly string[];
}

export function deviceConsentContent(view: DeviceConsentView): SafeHtml {
  const scopes =
    view.scopes.length === 0
      ? html`<p>It asks for no particular permissions: only to know that you signed in.</p>`
      : html`<p>It will be able to act as you with these permissions:</p>
<ul class="scopes">${view.scopes.map((s) => html`<li><span class="scope">${s.name}</span>${s.description === '' ? '' : html`<br><span class="muted">${s.description}</span>`}</li>`)}</ul>`;
  const resources =
    view.resources.length === 0
      ? ''
      : html`<p>Only at ${view.resources.length === 1 ? 'this service' : 'these services'}:</p>
<ul class="scopes">${view.resources.map((r) => html`<li><code>${r}</code></li>`)}</ul>`;
  return html`${appHeader(view.app)}
<h1 id="consent-title">Allow ${view.app.name} on your device?</h1>
<p class="muted">Signed in as <strong>${view.userName}</strong></p>
<p>Check that your device shows this code: <strong class="scope" id="device-user-code">${view.userCode}</strong></p>
${scopes}${resources}
<p class="muted">Deny if you did not just start this on a device of yours: someone may be trying to get access to your account.</p>
<form method="post" action="${view.action}" aria-labelledby="consent-title">
${hidden(FIELD.action, 'device_consent')}${hidden(FIELD.request, view.ticket)}${hidden(FIELD.csrf, view.csrf)}
<div class="actions">
<button type="submit" name="${FIELD.decision}" value="deny">Deny</button>
<button type="submit" name="${FIELD.decision}" value="allow" class="primary">Allow</button>
</div>
</form>`;
}

export interface DeviceDoneView {
  readonly app: AppView;
  readonly approved: boolean;
}

export function deviceDoneContent(view: DeviceDoneView): SafeHtml {
  return view.approved
    ? html`${appHeader(view.app)}
<h1>Device connected</h1>
<p role="status">You allowed ${view.app.name}. Return to your device: it continues on its own. You can close this page.</p>`
    : html`${appHeader(view.app)}
<h1>Access denied</h1>
<p role="status">You denied ${view.app.name}. Nothing was shared; you can close this page.</p>`;
}

export interface DeviceErrorView {
  readonly title: string;
  readonly message: string;
  readonly requestId: string;
  /** Offer to enter another code (the form's action), or nothing. */
  readonly again?: string;
}

export function deviceErrorContent(view: DeviceErrorView): SafeHtml {
  return html`<h1>${view.title}</h1>
${alert(view.message)}
${view.again === undefined ? '' : html`<p><a href="${view.again}">Enter a code again</a></p>`}
<p class="muted">Request id: <code>${view.requestId}</code></p>`;
}
