import { get, type DatabaseHost, type Finding, type Overview } from '../api';
import { Alert, Badge, Card, CopyButton, fmtTime, Loading, PageHeader, useLoad } from '../ui';
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

const STORAGE_NAME: Readonly<Record<Overview['database']['kind'], string>> = { sqlite: 'SQLite', postgres: 'PostgreSQL', memory: 'In memory (nothing is kept after a restart)' };
const ROLE_BADGE: Readonly<Record<DatabaseHost['role'], 'ok' | 'warn' | 'error' | 'muted' | 'info'>> = { primary: 'ok', standby: 'info', 'read-only': 'muted', unreachable: 'error' };

/** Where this instance keeps its data; for several PostgreSQL hosts, each as last probed (as /readyz lists them). */
function DatabaseCard(props: { database: Overview['database'] }) {
  const { kind, hosts } = props.database;
  return (
    <Card title="Database" titleId="database-title">
      {hosts === undefined ? (
        <p data-storage={kind}>
          {STORAGE_NAME[kind]}
          {kind === 'postgres' ? ', one host.' : '.'} <span class="muted">Readiness: <code>GET /readyz</code>.</span>
        </p>
      ) : (
        <>
          <p class="muted" data-storage={kind}>
            PostgreSQL, {hosts.length} hosts, probed every 10 s. Connections go to the one in use; when it fails, the next writable primary is used. Of two primaries of one cluster, the one promoted last (the higher timeline) is used. See docs/high-availability.md.
          </p>
          <div class="table-wrap">
            <table class="database-hosts">
              <caption class="sr-only">PostgreSQL hosts</caption>
              <thead>
                <tr>
                  <th scope="col">Host</th>
                  <th scope="col">Role</th>
                  <th scope="col">Timeline</th>
                  <th scope="col">In use</th>
                  <th scope="col">Detail</th>
                  <th scope="col">Checked</th>
                </tr>
              </thead>
              <tbody>
                {hosts.map((h) => (
                  <tr key={h.host} data-host={h.host}>
                    <td>
                      <code>{h.host}</code>
                    </td>
                    <td>
                      <Badge kind={ROLE_BADGE[h.role]}>{h.role}</Badge>
                    </td>
                    <td>{h.timeline ?? '—'}</td>
                    <td>{h.inUse ? <Badge kind="ok">in use</Badge> : '—'}</td>
                    <td>{h.detail ?? ''}</td>
                    <td>{h.checkedAt === null ? 'not yet' : fmtTime(h.checkedAt)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </>
      )}
    </Card>
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
          <DatabaseCard database={o.database} />
        </>
      )}
    </>
  );
}
