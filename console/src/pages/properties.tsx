import { useEffect, useState } from 'preact/hooks';
import { get, list, put, type PropertyView } from '../api';
import { Alert, Badge, Loading, PageHeader, useAction, useId, useLoad } from '../ui';

const isBool = (p: PropertyView) => p.type === 'boolean';
/** A SHA-256 property (latchkey.metrics.token_sha256): 64 hex digits or empty, edited as text. */
const isHash = (p: PropertyView) => p.type === 'sha256';
/** An enum property (latchkey.registration.mode): one of its values, chosen from a list. */
const isEnum = (p: PropertyView) => p.type === 'enum';
/** Text properties (host patterns, SHA-256, enums) are sent as text, integers as numbers. */
const isText = (p: PropertyView) => p.type !== 'boolean' && p.type !== 'integer';
const asBool = (v: unknown) => v === true || v === 'true';
const show = (p: PropertyView, v: unknown) => (isBool(p) ? (asBool(v) ? 'true' : 'false') : isHash(p) && v === '' ? '(none)' : String(v));

function PropertyCard(props: { p: PropertyView; focused: boolean; onSaved: (message: string) => void }) {
  const { p } = props;
  const id = useId('prop');
  const [bool, setBool] = useState(asBool(p.value));
  const [num, setNum] = useState(String(p.value));
  const action = useAction();
  const current = isBool(p) ? bool : num;
  const dirty = show(p, current) !== show(p, p.value);
  const isDefault = show(p, p.value) === show(p, p.default);
  useEffect(() => {
    if (!props.focused) return;
    const el = document.getElementById(`${id}-card`);
    el?.scrollIntoView({ block: 'center' });
    document.getElementById(id)?.focus();
  }, [props.focused]);
  return (
    <li class={`card property ${props.focused ? 'focused' : ''}`} id={`${id}-card`} data-property={p.name}>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          void action.run(async () => {
            await put(`/properties/${encodeURIComponent(p.name)}`, { value: isBool(p) ? bool : isText(p) ? num.trim() : Number(num) });
            props.onSaved(`Saved: ${p.name} is now ${show(p, current)}.`);
          });
        }}
      >
        <div class="property-head">
          <h2 class="property-name">
            <code>{p.name}</code>
          </h2>
          {isDefault ? <Badge>default</Badge> : <Badge kind="info">changed</Badge>}
        </div>
        <p class="property-desc" id={`${id}-desc`}>
          {p.description}
        </p>
        <div class="property-editor">
          {isBool(p) ? (
            <div class="field checkbox">
              <input id={id} type="checkbox" checked={bool} onChange={(e) => setBool((e.currentTarget as HTMLInputElement).checked)} aria-describedby={`${id}-desc ${id}-default`} />
              <label for={id}>
                On<span class="sr-only"> ({p.name})</span>
              </label>
            </div>
          ) : (
            <div class="field">
              <label for={id}>
                Value<span class="sr-only"> of {p.name}</span>
              </label>
              {isEnum(p) ? (
                <select id={id} value={num} onChange={(e) => setNum((e.currentTarget as HTMLSelectElement).value)} aria-describedby={`${id}-desc ${id}-default`}>
                  {(p.values ?? []).map((v) => (
                    <option key={v} value={v}>
                      {v}
                    </option>
                  ))}
                </select>
              ) : isText(p) && !isHash(p) ? (
                <input id={id} type="text" spellcheck={false} value={num} onInput={(e) => setNum((e.currentTarget as HTMLInputElement).value)} aria-describedby={`${id}-desc ${id}-default`} />
              ) : isHash(p) ? (
                <input id={id} type="text" class="mono" spellcheck={false} maxLength={64} placeholder="(none)" value={num} onInput={(e) => setNum((e.currentTarget as HTMLInputElement).value)} aria-describedby={`${id}-desc ${id}-default`} />
              ) : (
                <input id={id} type="number" step={1} min={p.min} max={p.max} value={num} onInput={(e) => setNum((e.currentTarget as HTMLInputElement).value)} aria-describedby={`${id}-desc ${id}-default`} />
              )}
            </div>
          )}
          <button type="submit" class={dirty ? 'primary' : ''} disabled={action.busy || !dirty}>
            Save<span class="sr-only"> {p.name}</span>
          </button>
        </div>
        <p class="muted small-text" id={`${id}-default`}>
          Default: <code>{show(p, p.default)}</code>
          {p.min !== undefined && p.max !== undefined ? ` · from ${p.min} to ${p.max}` : ''}
        </p>
        {action.error === undefined ? null : <Alert>{action.error}</Alert>}
      </form>
    </li>
  );
}

export function Properties(props: { focus?: string | undefined }) {
  const properties = useLoad(async () => list<PropertyView>(await get('/properties'), 'properties'));
  const [notice, setNotice] = useState<string | null>(null);
  return (
    <>
      <PageHeader title="Properties" intro="Instance settings, each with what it means and its default. Changes apply to every instance within a second." />
      <Loading loaded={properties} />
      {notice === null ? null : <Alert kind="success">{notice}</Alert>}
      {properties.data === undefined ? null : (
        <ul class="properties">
          {properties.data.map((p) => (
            <PropertyCard key={`${p.name}=${String(p.value)}`} p={p} focused={props.focus === p.name} onSaved={(m) => {
                setNotice(m);
                properties.reload();
              }} />
          ))}
        </ul>
      )}
    </>
  );
}
