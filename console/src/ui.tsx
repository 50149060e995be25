import type { ComponentChildren } from 'preact';
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';

let idCounter = 0;
/** A stable unique id for label/control pairs. */
export function useId(prefix = 'f'): string {
  const ref = useRef<string | null>(null);
  if (ref.current === null) ref.current = `${prefix}-${++idCounter}`;
  return ref.current;
}

export interface Loaded<T> {
  readonly data: T | undefined;
  readonly error: string | undefined;
  readonly loading: boolean;
  reload(): void;
}

/** Loads data when the dependencies change; `reload` fetches again. */
export function useLoad<T>(fn: () => Promise<T>, deps: readonly unknown[] = []): Loaded<T> {
  const [data, setData] = useState<T | undefined>(undefined);
  const [error, setError] = useState<string | undefined>(undefined);
  const [loading, setLoading] = useState(true);
  const [tick, setTick] = useState(0);
  useEffect(() => {
    let live = true;
    setLoading(true);
    fn().then(
      (d) => {
        if (!live) return;
        setData(d);
        setError(undefined);
        setLoading(false);
      },
      (e: unknown) => {
        if (!live) return;
        setError(e instanceof Error ? e.message : String(e));
        setLoading(false);
      },
    );
    return () => {
      live = false;
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [...deps, tick]);
  const reload = useCallback(() => setTick((t) => t + 1), []);
  return { data, error, loading, reload };
}

/**
 * Runs an action, keeping its error and busy state for the form that started it. `field` is the
 * admin API field the error names (its `{error, message, field}` answer), for showing the message
 * next to that field.
 */
export function useAction(): { busy: boolean; error: string | undefined; field: string | undefined; run: (fn: () => Promise<void>) => Promise<void>; clear: () => void } {
  const [busy, setBusy] = useState(false);
  const [failure, setFailure] = useState<{ message: string; field: string | undefined } | undefined>(undefined);
  const run = useCallback(async (fn: () => Promise<void>) => {
    setBusy(true);
    setFailure(undefined);
    try {
      await fn();
    } catch (e) {
      const field = (e as { field?: unknown } | null)?.field;
      setFailure({ message: e instanceof Error ? e.message : String(e), field: typeof field === 'string' ? field : undefined });
    } finally {
      setBusy(false);
    }
  }, []);
  return { busy, error: failure?.message, field: failure?.field, run, clear: () => setFailure(undefined) };
}

/** The ids a field's control is described by: its hint and its error, when present. */
function describedBy(id: string, hint: string | undefined, error: string | undefined): string | undefined {
  const ids = [hint === undefined ? '' : `${id}-hint`, error === undefined ? '' : `${id}-error`].filter((x) => x !== '');
  return ids.length === 0 ? undefined : ids.join(' ');
}

/** A field's error, under the control; announced when it appears. */
function FieldError(props: { id: string; error: string | undefined }) {
  if (props.error === undefined) return null;
  return (
    <p class="field-error" id={`${props.id}-error`} role="alert">
      {props.error}
    </p>
  );
}

export function PageHeader(props: { title: string; intro?: ComponentChildren; actions?: ComponentChildren }) {
  return (
    <div class="page-header">
      <div>
        <h1 id="page-title" tabIndex={-1}>
          {props.title}
        </h1>
        {props.intro === undefined ? null : <p class="muted intro">{props.intro}</p>}
      </div>
      {props.actions === undefined ? null : <div class="page-actions">{props.actions}</div>}
    </div>
  );
}

export function Alert(props: { kind?: 'error' | 'success' | 'info'; children: ComponentChildren }) {
  const kind = props.kind ?? 'error';
  return (
    <div class={`alert alert-${kind}`} role={kind === 'error' ? 'alert' : 'status'}>
      {props.children}
    </div>
  );
}

export function Loading(props: { loaded: Loaded<unknown> }) {
  if (props.loaded.error !== undefined) return <Alert>{props.loaded.error}</Alert>;
  if (props.loaded.loading && props.loaded.data === undefined) return <p class="muted" aria-live="polite">Loading…</p>;
  return null;
}

export function Card(props: { title?: string; titleId?: string; children: ComponentChildren; class?: string }) {
  return (
    <section class={`card ${props.class ?? ''}`} aria-labelledby={props.title === undefined ? undefined : props.titleId}>
      {props.title === undefined ? null : <h2 id={props.titleId}>{props.title}</h2>}
      {props.children}
    </section>
  );
}

type InputProps = {
  type?: 'text' | 'password' | 'search';
  name?: string;
  required?: boolean;
  placeholder?: string;
  maxLength?: number;
  autoComplete?: string;
  label: string;
  value: string;
  onInput: (v: string) => void;
  hint?: string;
  /** The server's refusal of this field's value, shown under it. */
  error?: string | undefined;
};

export function TextField({ label, value, onInput, hint, error, ...rest }: InputProps) {
  const id = useId();
  return (
    <div class={error === undefined ? 'field' : 'field invalid'}>
      <label for={id}>{label}</label>
      <input id={id} type="text" value={value} onInput={(e) => onInput((e.currentTarget as HTMLInputElement).value)} aria-describedby={describedBy(id, hint, error)} aria-invalid={error === undefined ? undefined : true} {...rest} />
      {hint === undefined ? null : (
        <p class="hint" id={`${id}-hint`}>
          {hint}
        </p>
      )}
      <FieldError id={id} error={error} />
    </div>
  );
}

export function TextArea(props: { label: string; value: string; onInput: (v: string) => void; hint?: string; rows?: number; name?: string; placeholder?: string; mono?: boolean; error?: string | undefined }) {
  const id = useId();
  return (
    <div class={props.error === undefined ? 'field' : 'field invalid'}>
      <label for={id}>{props.label}</label>
      <textarea
        id={id}
        name={props.name}
        rows={props.rows ?? 3}
        class={props.mono === true ? 'mono' : undefined}
        value={props.value}
        placeholder={props.placeholder}
        spellcheck={false}
        onInput={(e) => props.onInput((e.currentTarget as HTMLTextAreaElement).value)}
        aria-describedby={describedBy(id, props.hint, props.error)}
        aria-invalid={props.error === undefined ? undefined : true}
      />
      {props.hint === undefined ? null : (
        <p class="hint" id={`${id}-hint`}>
          {props.hint}
        </p>
      )}
      <FieldError id={id} error={props.error} />
    </div>
  );
}

export function SelectField(props: { label: string; value: string; onChange: (v: string) => void; options: readonly (readonly [string, string])[]; hint?: string; name?: string; error?: string | undefined }) {
  const id = useId();
  return (
    <div class={props.error === undefined ? 'field' : 'field invalid'}>
      <label for={id}>{props.label}</label>
      <select
        id={id}
        name={props.name}
        value={props.value}
        onChange={(e) => props.onChange((e.currentTarget as HTMLSelectElement).value)}
        aria-describedby={describedBy(id, props.hint, props.error)}
        aria-invalid={props.error === undefined ? undefined : true}
      >
        {props.options.map(([v, text]) => (
          <option value={v} key={v}>
            {text}
          </option>
        ))}
      </select>
      {props.hint === undefined ? null : (
        <p class="hint" id={`${id}-hint`}>
          {props.hint}
        </p>
      )}
      <FieldError id={id} error={props.error} />
    </div>
  );
}

export function Checkbox(props: { label: string; checked: boolean; onChange: (v: boolean) => void; hint?: string; name?: string }) {
  const id = useId();
  return (
    <div class="field checkbox">
      <input id={id} type="checkbox" name={props.name} checked={props.checked} onChange={(e) => props.onChange((e.currentTarget as HTMLInputElement).checked)} aria-describedby={props.hint === undefined ? undefined : `${id}-hint`} />
      <label for={id}>{props.label}</label>
      {props.hint === undefined ? null : (
        <p class="hint" id={`${id}-hint`}>
          {props.hint}
        </p>
      )}
    </div>
  );
}

export function NumberField(props: { label: string; value: string; onInput: (v: string) => void; min?: number; max?: number; hint?: string; name?: string; error?: string | undefined }) {
  const id = useId();
  return (
    <div class={props.error === undefined ? 'field' : 'field invalid'}>
      <label for={id}>{props.label}</label>
      <input id={id} type="number" inputMode="numeric" step={1} name={props.name} min={props.min} max={props.max} value={props.value} onInput={(e) => props.onInput((e.currentTarget as HTMLInputElement).value)} aria-describedby={describedBy(id, props.hint, props.error)} aria-invalid={props.error === undefined ? undefined : true} />
      {props.hint === undefined ? null : (
        <p class="hint" id={`${id}-hint`}>
          {props.hint}
        </p>
      )}
      <FieldError id={id} error={props.error} />
    </div>
  );
}

export function Badge(props: { kind?: 'ok' | 'warn' | 'error' | 'muted' | 'info'; children: ComponentChildren }) {
  return <span class={`badge badge-${props.kind ?? 'muted'}`}>{props.children}</span>;
}

export function Empty(props: { children: ComponentChildren }) {
  return <p class="empty">{props.children}</p>;
}

/** A time of the admin API (ISO 8601 text, core/timestamps.ts; ms since the epoch also read) in the browser's locale. */
export function fmtTime(time: string | number | null | undefined): string {
  if (time === null || time === undefined) return '—';
  const d = new Date(time);
  if (Number.isNaN(d.getTime())) return '—';
  return d.toLocaleString(undefined, { year: 'numeric', month: 'short', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit' });
}

export function fmtDuration(seconds: number): string {
  if (seconds % 86400 === 0 && seconds >= 86400) return `${seconds / 86400} d`;
  if (seconds % 3600 === 0 && seconds >= 3600) return `${seconds / 3600} h`;
  if (seconds % 60 === 0 && seconds >= 60) return `${seconds / 60} min`;
  return `${seconds} s`;
}

/** Copies text: the Clipboard API, or else selects the text so the user can press Ctrl+C. */
export async function copyText(text: string, fallbackEl: HTMLElement | null): Promise<'copied' | 'selected'> {
  try {
    if (navigator.clipboard === undefined) throw new Error('no clipboard');
    await navigator.clipboard.writeText(text);
    return 'copied';
  } catch {
    if (fallbackEl !== null) {
      const range = document.createRange();
      range.selectNodeContents(fallbackEl);
      const sel = window.getSelection();
      sel?.removeAllRanges();
      sel?.addRange(range);
    }
    return 'selected';
  }
}

export function CopyButton(props: { text: string; target: () => HTMLElement | null; label: string }) {
  const [state, setState] = useState<'idle' | 'copied' | 'selected'>('idle');
  return (
    <span class="copy">
      <button type="button" class="small" onClick={async () => setState(await copyText(props.text, props.target()))}>
        {props.label}
      </button>
      <span class="copy-status" role="status" aria-live="polite">
        {state === 'copied' ? 'Copied to the clipboard.' : state === 'selected' ? 'Selected: press Ctrl+C (⌘C) to copy.' : ''}
      </span>
    </span>
  );
}

/** A two-step button: the first press asks, the second does it. */
export function ConfirmButton(props: { label: string; confirmLabel: string; onConfirm: () => void | Promise<void>; danger?: boolean; disabled?: boolean; small?: boolean }) {
  const [asking, setAsking] = useState(false);
  const cls = `${props.danger === true ? 'danger' : ''} ${props.small === true ? 'small' : ''}`.trim();
  if (!asking)
    return (
      <button type="button" class={cls} disabled={props.disabled} onClick={() => setAsking(true)}>
        {props.label}
      </button>
    );
  return (
    <span class="confirm">
      <button
        type="button"
        class={`${cls} ${props.danger === true ? 'danger-solid' : 'primary'}`}
        ref={(el) => el?.focus()}
        onClick={async () => {
          setAsking(false);
          await props.onConfirm();
        }}
      >
        {props.confirmLabel}
      </button>
      <button type="button" class={props.small === true ? 'small' : ''} onClick={() => setAsking(false)}>
        Cancel
      </button>
    </span>
  );
}

export function splitList(text: string): string[] {
  return text
    .split(/[\s,]+/)
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

export function lines(text: string): string[] {
  return text
    .split('\n')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

export function appName(a: TokenApp): string {
  if (a === null || a === undefined) return '—';
  return typeof a === 'string' ? a : `${a.name} (${a.clientId})`;
}
type TokenApp = string | { readonly clientId: string; readonly name: string } | null | undefined;

export function userName(u: string | { readonly userName?: string; readonly name?: string } | null | undefined): string {
  if (u === null || u === undefined) return '—';
  return typeof u === 'string' ? u : (u.userName ?? u.name ?? '—');
}
