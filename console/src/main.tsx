import { render } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { loadSession, logout, type SessionInfo } from './api';
import { Alert } from './ui';
import { Home } from './pages/home';
import { ApplicationDetail, Applications, NewApplication } from './pages/applications';
import { Users } from './pages/users';
import { Posture } from './pages/posture';
import { UserDetail } from './pages/user-detail';
import { Scopes } from './pages/scopes';
import { Resources } from './pages/resources';
import { Properties } from './pages/properties';
import { Apis } from './pages/apis';
import { Tokens } from './pages/tokens';
import { Refusals } from './pages/refusals';
import { RuleDetail, Rules } from './pages/rules';
import { ActivityPage } from './pages/activity';
import { Audit } from './pages/audit';
import { Debugger } from './pages/debugger';
import { Keys } from './pages/keys';
import { Registration } from './pages/registration';
import { Devices } from './pages/devices';
import { Exchange } from './pages/exchange';
import { Idps } from './pages/idps';
import './styles.css';

interface Route {
  readonly path: string[];
  readonly params: URLSearchParams;
}

function currentRoute(): Route {
  const hash = window.location.hash;
  if (!hash.startsWith('#/')) return { path: [], params: new URLSearchParams() };
  const raw = hash.slice(2);
  const q = raw.indexOf('?');
  const path = (q === -1 ? raw : raw.slice(0, q)).split('/').filter((s) => s !== '').map((s) => decodeURIComponent(s));
  return { path, params: new URLSearchParams(q === -1 ? '' : raw.slice(q + 1)) };
}

const NAV: readonly (readonly [string, string])[] = [
  ['', 'Home'],
  ['applications', 'Applications'],
  ['posture', 'Posture'],
  ['users', 'Users & roles'],
  ['scopes', 'Scopes'],
  ['properties', 'Properties'],
  ['apis', 'REST APIs'],
  ['resources', 'Resources'],
  ['tokens', 'Tokens'],
  ['refusals', 'Refusals'],
  ['rules', 'Rules'],
  ['registration', 'Registration'],
  ['devices', 'Devices'],
  ['exchange', 'Token exchange'],
  ['activity', 'Activity'],
  ['audit', 'Audit'],
  ['inspect', 'Token debugger'],
  ['keys', 'Keys'],
  ['idps', 'Identity providers'],
];

function Page(props: { route: Route; me: string }) {
  const [section, sub] = props.route.path;
  switch (section ?? '') {
    case '':
      return <Home />;
    case 'applications':
      if (sub === 'new') return <NewApplication />;
      if (sub !== undefined) return <ApplicationDetail clientId={sub} />;
      return <Applications />;
    case 'posture':
      return <Posture params={props.route.params} key={props.route.params.toString()} />;
    case 'users': {
      // #/users/<name>, and #/users?name=<name> (the links of refusals and findings).
      const one = sub ?? props.route.params.get('name') ?? undefined;
      return one === undefined || one === '' ? <Users /> : <UserDetail userName={one} me={props.me} />;
    }
    case 'scopes':
      return <Scopes />;
    case 'properties':
      return <Properties focus={sub ?? props.route.params.get('name') ?? undefined} />;
    case 'apis':
      return <Apis />;
    case 'resources':
      return <Resources />;
    case 'tokens':
      return <Tokens params={props.route.params} />;
    case 'refusals':
      // A link to another view or filter of the page (#/refusals?view=requests&reason=…) starts it afresh.
      return <Refusals params={props.route.params} key={props.route.params.toString()} />;
    case 'rules':
      return sub === undefined ? <Rules /> : <RuleDetail id={sub} key={sub} />;
    case 'activity':
      return <ActivityPage />;
    case 'audit':
      return <Audit params={props.route.params} />;
    case 'inspect':
      return <Debugger />;
    case 'keys':
      return <Keys />;
    case 'registration':
      return <Registration />;
    case 'devices':
      return <Devices />;
    case 'exchange':
      return <Exchange />;
    case 'idps':
      return <Idps />;
    default:
      return (
        <>
          <h1 id="page-title" tabIndex={-1}>
            Page not found
          </h1>
          <p>
            There is no console page at <code>{window.location.hash}</code>. <a href="#/">Go to the home page</a>.
          </p>
        </>
      );
  }
}

function App() {
  const [session, setSession] = useState<SessionInfo | null>(null);
  const [failure, setFailure] = useState<string | null>(null);
  const [signedOut, setSignedOut] = useState(false);
  const [route, setRoute] = useState<Route>(currentRoute);
  const mainRef = useRef<HTMLElement>(null);
  const first = useRef(true);

  useEffect(() => {
    loadSession().then(setSession, (e: unknown) => setFailure(e instanceof Error ? e.message : String(e)));
    const onHash = () => {
      if (window.location.hash !== '' && !window.location.hash.startsWith('#/')) return;
      setRoute(currentRoute());
    };
    window.addEventListener('hashchange', onHash);
    return () => window.removeEventListener('hashchange', onHash);
  }, []);

  const key = route.path.join('/');
  // Moving to another page puts the focus on its heading, so keyboard and screen reader users start there.
  useEffect(() => {
    if (first.current) {
      first.current = false;
      return;
    }
    const t = window.setTimeout(() => {
      const h = document.getElementById('page-title');
      (h ?? mainRef.current)?.focus();
    }, 0);
    return () => window.clearTimeout(t);
  }, [key]);

  useEffect(() => {
    const label = NAV.find(([p]) => p === (route.path[0] ?? ''))?.[1] ?? 'Console';
    document.title = `${label} · Latchkey console`;
  }, [key]);

  if (signedOut)
    return (
      <main id="main" class="center-card">
        <h1>Signed out</h1>
        <p>Your console session has ended.</p>
        <p>
          <a class="button primary" href="/console/login">
            Sign in again
          </a>
        </p>
      </main>
    );
  if (failure !== null)
    return (
      <main id="main" class="center-card">
        <h1>The console could not start</h1>
        <Alert>{failure}</Alert>
        <p>
          <a class="button" href="/console/login">
            Sign in
          </a>
        </p>
      </main>
    );
  if (session === null)
    return (
      <main id="main" class="center-card">
        <p class="muted" aria-live="polite">
          Loading the console…
        </p>
      </main>
    );

  const active = route.path[0] ?? '';
  return (
    <div class="shell">
      <a
        class="skip-link"
        href="#main"
        onClick={(e) => {
          e.preventDefault();
          mainRef.current?.focus();
        }}
      >
        Skip to content
      </a>
      <header class="topbar">
        <a class="brand" href="#/">
          <span class="brand-mark" aria-hidden="true">
            L
          </span>
          Latchkey <span class="brand-sub">console</span>
        </a>
        <div class="whoami">
          <span class="muted">
            Signed in as <strong>{session.user.name}</strong>
          </span>
          <button
            type="button"
            class="small"
            onClick={async () => {
              try {
                await logout();
              } finally {
                setSignedOut(true);
              }
            }}
          >
            Sign out
          </button>
        </div>
      </header>
      <div class="body">
        <nav class="sidenav" aria-label="Console">
          <ul>
            {NAV.map(([path, label]) => (
              <li key={path}>
                <a href={`#/${path}`} aria-current={active === path ? 'page' : undefined}>
                  {label}
                </a>
              </li>
            ))}
          </ul>
        </nav>
        <main id="main" tabIndex={-1} ref={mainRef}>
          <Page route={route} me={session.user.name} key={key} />
        </main>
      </div>
    </div>
  );
}

render(<App />, document.getElementById('app')!);
