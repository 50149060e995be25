import { useState } from 'preact/hooks';
import { patch } from './api';
import { useAction } from './ui';

/**
 * A scope's or role's description with an Edit button: PATCH `path` {description} (the admin API's
 * PATCH /scopes/:name and /roles/:name; `latchkey scopes|roles update --description` on the CLI).
 */
export function DescriptionEditor(props: { what: string; path: string; value: string; onSaved: () => void }) {
  const [editing, setEditing] = useState(false);
  const [text, setText] = useState(props.value);
  const action = useAction();
  if (!editing)
    return (
      <>
        {props.value === '' ? <span class="muted">—</span> : props.value}{' '}
        <button type="button" class="small" onClick={() => (setText(props.value), setEditing(true))}>
          Edit<span class="sr-only"> the description of {props.what}</span>
        </button>
      </>
    );
  return (
    <form
      class="inline-form"
      onSubmit={(e) => {
        e.preventDefault();
        void action.run(async () => {
          await patch(props.path, { description: text.trim() });
          setEditing(false);
          props.onSaved();
        });
      }}
    >
      <input type="text" aria-label={`Description of ${props.what}`} value={text} maxLength={500} ref={(el) => el?.focus()} onInput={(e) => setText((e.currentTarget as HTMLInputElement).value)} />
      <button type="submit" class="small primary" disabled={action.busy}>
        Save
      </button>
      <button type="button" class="small" onClick={() => setEditing(false)}>
        Cancel
      </button>
      {action.error === undefined ? null : (
        <span class="field-error" role="alert">
          {action.error}
        </span>
      )}
    </form>
  );
}
