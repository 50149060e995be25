import { get, type Finding, type Overview } from '../api';
import { Alert, Badge, Card, CopyButton, Loading, PageHeader, useLoad } from '../ui';
import { useRef } from 'preact/hooks';

/** The words of a finding's link, where "Change the setting" would not say where it goes. */
const LINK_TEXT: Readonly<Record<string, string>> = {
  admin_default_password: 'Set a new password',
  no_active_administrator: 'Open Users & roles',
  console_application_inactive: 'Open the console application',
};

function FindingItem(props: { finding: Finding }) {
  const f = props.finding;
  const cmd = useRef<HTMLElement>(null);
  return (
    <li class={`finding finding-${f.severity}`} data-finding={f.id}>
      <div class="finding-head">
        <Badge kind={f.severity === 'error' ? 'error' : f.severity === 'warning' ? 'warn' : 'info'}>{f.severity === 'error' ? 'Error' : f.severity === 'warning' ? 'Warning' : 'Info'}</Badge>
        <h3>{f.title}</h3>
      </div>
      <p>{f.detail}</p>
      <p>
        <strong>Fix:</strong> {f.fix}
      </p>
      {f.command === undefined ? null : (
        <div class="command">
          <code ref={cmd}>{f.command}</code>
          <CopyButton text={f.command} target={() => cmd.current} label="Copy command" />
        </div>
      )}
      {f.link === undefined ? null : (
        <p>
          <a href={f.link}>{LINK_TEXT[f.id] ?? 'Change the setting'}</a>
        </p>
      )}
    </li>
  );
}

export function Home() {
  const overview = useLoad(() => get<Overview>('/overview'));
  const o = overview.data;
  const counts: readonly (readonly [string, number | undefined, string])[] = [
    ['Applications', o?.counts.applications, '#/applications'],
    ['Users', o?.counts.users, '#/users'],
    ['Active tokens', o?.counts.activeTokens, '#/tokens'],
    ['Refusals (24 h)', o?.counts.refusals24h, '#/refusals'],
  ];
  return (
    <>
      <PageHeader title="Home" intro="The state of this instance, and what the doctor found wrong with its settings." actions={<button type="button" onClick={overview.reload}>Refresh</button>} />
      <Loading loaded={overview} />
      {o === undefined ? null : (
        <>
          <section aria-labelledby="counts-title">
            <h2 id="counts-title" class="sr-only">
              Counts
            </h2>
            <ul class="stats">
              {counts.map(([label, n, href]) => (
                <li key={label} class="stat">
                  <a href={href}>
                    <span class="stat-value">{n ?? '—'}</span>
                    <span class="stat-label">{label}</span>
                  </a>
                </li>
              ))}
            </ul>
          </section>
          <Card title="Doctor" titleId="doctor-title">
            {o.findings.length === 0 ? (
              <Alert kind="success">No problems found: every check passed.</Alert>
            ) : (
              <>
                <p class="muted">
                  {o.findings.length} finding{o.findings.length === 1 ? '' : 's'}. The same checks run with <code>latchkey doctor</code>.
                </p>
                <ul class="findings">
                  {o.findings.map((f) => (
                    <FindingItem finding={f} key={`${f.id}:${f.target ?? ''}`} />
                  ))}
                </ul>
              </>
            )}
          </Card>
        </>
      )}
    </>
  );
}
