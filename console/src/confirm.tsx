import type { ComponentChildren } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { ApiError, del } from './api';
import { Alert } from './ui';
import './confirm.css';

/**
 * Deleting from the console: a Delete button opens a modal <dialog> (the focus moves into it, onto
 * Cancel; Escape cancels; the focus returns to the button) that names what will be deleted and
 * what will be revoked. The server's refusal (in_use, last_administrator, built_in) is shown in the
 * dialog; an in_use refusal the admin API marks as cascadable (its `dependants`) offers the
 * cascade: "Delete and remove it from N applications".
 */

/** What an in_use refusal names (the admin API's `dependants`, src/errors/registry.ts). */
interface Dependants {
  readonly applications?: readonly { readonly clientId: string; readonly name: string }[];
  readonly users?: readonly string[];
  readonly routes?: readonly string[];
  readonly cascade: boolean;
}

export function ConfirmDialog(props: {
  title: string;
  children: ComponentChildren;
  confirmLabel: string;
  busy: boolean;
  error?: string | undefined;
  /** Another way to go ahead, shown after a refusal (the cascade). */
  alternative?: { readonly label: string; readonly run: () => void } | undefined;
  onConfirm: () => void;
  onCancel: () => void;
}) {
  const ref = useRef<HTMLDialogElement>(null);
  const cancelRef = useRef<HTMLButtonElement>(null);
  const onCancelRef = useRef(props.onCancel);
  onCancelRef.current = props.onCancel;
  useEffect(() => {
    const dialog = ref.current;
    if (dialog === null) return;
    if (!dialog.open) dialog.showModal();
    cancelRef.current?.focus();
    const onCancel = (e: Event) => {
      // Escape: the dialog says it is cancelled; the page decides (it unmounts the dialog).
      e.preventDefault();
      onCancelRef.current();
    };
    dialog.addEventListener('cancel', onCancel);
    return () => {
      dialog.removeEventListener('cancel', onCancel);
      if (dialog.open) dialog.close();
    };
  }, []);
  const titleId = useRef(`confirm-${Math.random().toString(36).slice(2)}`).current;
  return (
    <dialog class="confirm-dialog" ref={ref} aria-labelledby={titleId} aria-modal="true">
      <h2 id={titleId}>{props.title}</h2>
      {props.children}
      {props.error === undefined ? null : <Alert>{props.error}</Alert>}
      <div class="dialog-actions">
        <button type="button" ref={cancelRef} onClick={props.onCancel} disabled={props.busy}>
          Cancel
        </button>
        {props.alternative === undefined ? (
          <button type="button" class="danger danger-solid" onClick={props.onConfirm} disabled={props.busy || props.error !== undefined}>
            {props.confirmLabel}
          </button>
        ) : (
          <button type="button" class="danger danger-solid" onClick={props.alternative.run} disabled={props.busy}>
            {props.alternative.label}
          </button>
        )}
      </div>
    </dialog>
  );
}

const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

/** The cascade offer for an in_use refusal that allows it, or undefined. */
function cascadeOffer(d: Dependants | undefined): string | undefined {
  if (d === undefined || !d.cascade) return undefined;
  if (d.applications !== undefined && d.applications.length > 0) return `Delete and remove it from ${plural(d.applications.length, 'application')}`;
  if (d.users !== undefined && d.users.length > 0) return `Delete and remove it from ${plural(d.users.length, 'user')}`;
  return undefined;
}

export function DeleteButton<T>(props: {
  /** What is deleted, for the button's accessible name and the dialog: `application "Reports"`. */
  what: string;
  /** The admin API path to DELETE. */
  path: string;
  /** What the delete ends (loaded when the dialog opens): the items of a list. */
  consequences: () => Promise<readonly string[]>;
  onDeleted: (answer: T) => void;
  small?: boolean;
  disabled?: boolean;
}) {
  const [open, setOpen] = useState(false);
  const [items, setItems] = useState<readonly string[] | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | undefined>(undefined);
  const [cascade, setCascade] = useState<string | undefined>(undefined);
  const buttonRef = useRef<HTMLButtonElement>(null);
  const close = () => {
    setOpen(false);
    setError(undefined);
    setCascade(undefined);
    window.setTimeout(() => buttonRef.current?.focus(), 0);
  };
  const run = async (withCascade: boolean) => {
    setBusy(true);
    try {
      const answer = await del<T>(`${props.path}${withCascade ? '?cascade=true' : ''}`);
      setOpen(false);
      props.onDeleted(answer);
    } catch (e) {
      const dependants = e instanceof ApiError && e.code === 'in_use' ? (e.body?.dependants as Dependants | undefined) : undefined;
      setError(e instanceof Error ? e.message : String(e));
      setCascade(withCascade ? undefined : cascadeOffer(dependants));
    } finally {
      setBusy(false);
    }
  };
  return (
    <>
      <button
        type="button"
        ref={buttonRef}
        class={`danger${props.small === true ? ' small' : ''}`}
        disabled={props.disabled}
        onClick={() => {
          setItems(null);
          setOpen(true);
          props.consequences().then(setItems, (e: unknown) => setItems([`(what it ends could not be read: ${e instanceof Error ? e.message : String(e)})`]));
        }}
      >
        Delete<span class="sr-only"> {props.what}</span>
      </button>
      {open ? (
        <ConfirmDialog
          title={`Delete ${props.what}?`}
          confirmLabel="Delete"
          busy={busy}
          error={error}
          alternative={cascade === undefined ? undefined : { label: cascade, run: () => void run(true) }}
          onConfirm={() => void run(false)}
          onCancel={close}
        >
          {items === null ? (
            <p class="muted" aria-live="polite">
              Finding what it ends…
            </p>
          ) : (
            <ul class="consequences">
              {items.map((t) => (
                <li key={t}>{t}</li>
              ))}
            </ul>
          )}
        </ConfirmDialog>
      ) : null}
    </>
  );
}
