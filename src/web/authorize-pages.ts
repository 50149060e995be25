import { html, isDisplayableImageUrl, type SafeHtml } from './html.js';

/**
 * The pages of the authorization endpoint: sign-in, consent, and the error page shown when the
 * request cannot be sent back to the application. Content only; the layout and the security
 * headers come from page.ts. Every dynamic value goes through `html`, which escapes it.
 */

/** Form field names. `lk_` keeps them apart from OAuth parameters (a POSTed authorization request). */
export const FIELD = {
  action: 'lk_action',
  request: 'lk_request',
  csrf: 'lk_csrf',
  decision: 'decision',
  username: 'username',
  password: 'password',
} as const;

export type FormAction = 'sign_in' | 'consent' | 'switch_user' | 'continue';

export interface AppView {
  readonly name: string;
  readonly logoUri: string | null;
}

function hidden(name: string, value: string): SafeHtml {
  return html`<input type="hidden" name="${name}" value="${value}">`;
}

function appHeader(app: AppView): SafeHtml {
  const logo = isDisplayableImageUrl(app.logoUri) ? html`<img src="${app.logoUri}" alt="" width="48" height="48">` : '';
  return html`<div class="app">${logo}<span class="name">${app.name}</span></div>`;
}

function alert(message: string | undefined): SafeHtml | '' {
  return message === undefined ? '' : html`<p class="alert" role="alert">${message}</p>`;
}

export interface SignInView {
  readonly app: AppView;
  /** Where the form posts: the endpoint path, relative to the page. */
  readonly action: string;
  readonly request: string;
  readonly csrf: string;
  readonly error?: string;
  readonly username?: string;
  /** A neutral notice above the form (why the page is shown again), not an error. */
  readonly notice?: string;
  /** prompt=select_account with a live session: offer to continue as this user. */
  readonly current?: { readonly userName: string; readonly csrf: string };
}

function notice(message: string | undefined): SafeHtml | '' {
  return message === undefined ? '' : html`<p class="muted" role="status">${message}</p>`;
}

function continueAs(view: SignInView): SafeHtml | '' {
  if (view.current === undefined) return '';
  return html`<form method="post" action="${view.action}">
${hidden(FIELD.action, 'continue')}${hidden(FIELD.request, view.request)}${hidden(FIELD.csrf, view.current.csrf)}
<button type="submit" class="primary full">Continue as ${view.current.userName}</button>
</form>
<p class="muted">Or sign in as someone else:</p>`;
}

export function signInContent(view: SignInView): SafeHtml {
  return html`${appHeader(view.app)}
<h1>Sign in</h1>
<p class="muted">to continue to ${view.app.name}</p>
${alert(view.error)}${notice(view.notice)}${continueAs(view)}
<form method="post" action="${view.action}">
${hidden(FIELD.action, 'sign_in')}${hidden(FIELD.request, view.request)}${hidden(FIELD.csrf, view.csrf)}
<label for="username">User name</label>
<input type="text" id="username" name="${FIELD.username}" value="${view.username ?? ''}" autocomplete="username" autocapitalize="none" spellcheck="false" required maxlength="100"${view.username === undefined ? html` autofocus` : ''}>
<label for="password">Password</label>
<input type="password" id="password" name="${FIELD.password}" autocomplete="current-password" required maxlength="1024"${view.username === undefined ? '' : html` autofocus`}>
<button type="submit" class="primary full">Sign in</button>
</form>`;
}

export interface ScopeView {
  readonly name: string;
  readonly description: string;
}

export interface ConsentView {
  readonly app: AppView;
  readonly action: string;
  readonly request: string;
  readonly csrf: string;
  readonly switchCsrf: string;
  readonly userName: string;
  readonly scopes: readonly ScopeView[];
  /** Where the answer goes, shown so the user can tell a look-alike application. */
  readonly redirectUri: string;
  /**
   * For a client known by its client ID metadata document: the host that published it (what its
   * name and redirect URIs are vouched for by), and whether every redirect URI it has is on this
   * machine (localhost, loopback), which any local program can claim.
   */
  readonly metadataDocument?: { readonly host: string; readonly localOnly: boolean };
  /** RFC 8707: the resources the token will be for (canonical identifiers), when the request named some. */
  readonly resources?: readonly string[];
}

function resourcesNotice(resources: readonly string[] | undefined): SafeHtml | '' {
  if (resources === undefined || resources.length === 0) return '';
  return html`<p>Only at ${resources.length === 1 ? 'this service' : 'these services'}:</p>
<ul class="scopes">${resources.map((r) => html`<li><code>${r}</code></li>`)}</ul>`;
}

function documentNotice(doc: ConsentView['metadataDocument']): SafeHtml | '' {
  if (doc === undefined) return '';
  const verified = html`<p class="muted">Not registered with this server: its details are published by <strong>${doc.host}</strong> (verified by ${doc.host}).</p>`;
  if (!doc.localOnly) return verified;
  return html`${verified}<p class="alert" role="alert">Warning: this application only returns to a program on your own computer (localhost). Any program can claim this name; allow it only if you just started it yourself.</p>`;
}

function returnTo(uri: string): string {
  try {
    const url = new URL(uri);
    return url.protocol === 'http:' || url.protocol === 'https:' ? url.host : `${url.protocol}${url.pathname}`;
  } catch {
    return uri;
  }
}

export function consentContent(view: ConsentView): SafeHtml {
  const scopes =
    view.scopes.length === 0
      ? html`<p>It asks for no particular permissions: only to know that you signed in.</p>`
      : html`<p>It will be able to act as you with these permissions:</p>
<ul class="scopes">${view.scopes.map((s) => html`<li><span class="scope">${s.name}</span>${s.description === '' ? '' : html`<br><span class="muted">${s.description}</span>`}</li>`)}</ul>`;
  return html`${appHeader(view.app)}
<h1 id="consent-title">Allow ${view.app.name} to access your account?</h1>
<p class="muted">Signed in as <strong>${view.userName}</strong></p>
${documentNotice(view.metadataDocument)}${scopes}${resourcesNotice(view.resources)}
<p class="muted">You will be sent back to <code>${returnTo(view.redirectUri)}</code>.</p>
<form method="post" action="${view.action}" aria-labelledby="consent-title">
${hidden(FIELD.action, 'consent')}${hidden(FIELD.request, view.request)}${hidden(FIELD.csrf, view.csrf)}
<div class="actions">
<button type="submit" name="${FIELD.decision}" value="deny">Deny</button>
<button type="submit" name="${FIELD.decision}" value="allow" class="primary">Allow</button>
</div>
</form>
<form method="post" action="${view.action}">
${hidden(FIELD.action, 'switch_user')}${hidden(FIELD.request, view.request)}${hidden(FIELD.csrf, view.switchCsrf)}
<p class="muted">Not ${view.userName}? <button type="submit" class="link">Sign in as someone else</button></p>
</form>`;
}

export interface ErrorView {
  readonly title: string;
  readonly message: string;
  readonly requestId: string;
}

export function errorContent(view: ErrorView): SafeHtml {
  return html`<h1>${view.title}</h1>
${alert(view.message)}
<p>You cannot continue to the application from here. Go back to it and try again; if this keeps happening, tell its administrator.</p>
<p class="muted">Request id: <code>${view.requestId}</code></p>`;
}

export interface FormPostView {
  /** The client's redirect URI, the form's action. */
  readonly redirectUri: string;
  readonly params: readonly (readonly [string, string])[];
  readonly nonce: string;
}

/**
 * The form_post response (OAuth 2.0 Form Post Response Mode §2): the authorization response as
 * hidden fields of a form POSTed to the redirect URI, submitted by the page's one script (allowed
 * by its nonce); without script, by the button.
 */
export function formPostContent(view: FormPostView): SafeHtml {
  return html`<h1>Returning to the application</h1>
<form method="post" action="${view.redirectUri}" id="lk-form-post">
${view.params.map(([name, value]) => hidden(name, value))}
<noscript><p class="muted">Scripts are off in this browser: press Continue.</p></noscript>
<button type="submit" class="primary full">Continue</button>
</form>
<script nonce="${view.nonce}">document.getElementById('lk-form-post').submit();</script>`;
}
