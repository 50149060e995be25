import { get, type RefusalExplained } from './api';
import { useLoad } from './ui';

/**
 * The facts of one refused request (GET /refusals/{id}: what `latchkey explain` shows): times, the
 * actor from the audit log, the application's settings now, counts, typo suggestions, and the fix
 * written for this case. Loaded when a refusal is opened, so the list stays one cheap query.
 */

const text = (v: unknown): string => (v === null || v === undefined ? '(none)' : Array.isArray(v) ? (v.length === 0 ? '(none)' : v.join(', ')) : String(v));

export function RefusalFacts(props: { requestId: string; staticFix?: string | null | undefined }) {
  const loaded = useLoad(() => get<RefusalExplained>(`/refusals/${encodeURIComponent(props.requestId)}`), [props.requestId]);
  const e = loaded.data;
  if (loaded.error !== undefined) return <p class="muted small-text">The facts of this request could not be loaded: {loaded.error}</p>;
  if (e === undefined) return <p class="muted small-text">Loading the facts of this request…</p>;
  const facts = Object.entries(e.facts);
  return (
    <div class="refusal-facts" data-request-id={e.requestId}>
      {e.outcome === 'would_refuse' ? (
        <p>
          <strong>Would be refused</strong> by the report-only rule <code>{e.rule?.id ?? text(e.facts.rule)}</code>: the request succeeded.
        </p>
      ) : null}
      {e.fix === null || e.fix === props.staticFix ? null : (
        <p>
          <strong>Fix for this case:</strong> {e.fix}
        </p>
      )}
      {facts.length === 0 ? null : (
        <table class="facts" aria-label="Facts of this case">
          <caption>Facts of this case</caption>
          <tbody>
            {facts.map(([name, value]) => (
              <tr key={name} data-fact={name}>
                <th scope="row">{e.factLabels[name] ?? name}</th>
                <td class="wrap-anywhere">{text(value)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}
