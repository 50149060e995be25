import { useState } from 'preact/hooks';
import { patch, type User, type UserProfile } from '../api';
import { Alert, Checkbox, TextField, useAction } from '../ui';

/**
 * A user's OpenID Connect profile (Core 1.0 §5.1): the claims UserInfo and ID tokens carry for the
 * scopes profile, email, phone and address. An emptied field is cleared (sent as null); the
 * registry checks every value and a refusal is shown under the field it names.
 */

const TEXT: readonly (readonly [keyof UserProfile & string, string, string, string?])[] = [
  ['name', 'Full name', 'name', 'Scope profile, as the other names.'],
  ['givenName', 'Given name', 'given_name'],
  ['familyName', 'Family name', 'family_name'],
  ['email', 'Email', 'email', 'Scope email.'],
  ['phoneNumber', 'Phone number', 'phone_number', 'Scope phone; E.164 is recommended, e.g. +1 555 0100.'],
  ['locale', 'Locale', 'locale', 'A BCP 47 language tag, e.g. en-US.'],
  ['zoneinfo', 'Time zone', 'zoneinfo', 'An IANA time zone, e.g. Europe/Paris.'],
  ['picture', 'Picture URL', 'picture'],
];

const ADDRESS: readonly (readonly [string, string])[] = [
  ['formatted', 'Address (one text)'],
  ['streetAddress', 'Street'],
  ['locality', 'City'],
  ['region', 'Region'],
  ['postalCode', 'Postal code'],
  ['country', 'Country'],
];

type Draft = Record<string, string>;

function draftOf(p: UserProfile | undefined): Draft {
  const d: Draft = {};
  for (const [key] of TEXT) d[key] = (p?.[key] as string | undefined) ?? '';
  const a = (p?.address ?? {}) as Record<string, string | undefined>;
  for (const [key] of ADDRESS) d[`address.${key}`] = a[key] ?? '';
  return d;
}

export function ProfileCard(props: { user: User; onChanged: (message: string) => void }) {
  const [draft, setDraft] = useState<Draft>(() => draftOf(props.user.profile));
  const [emailVerified, setEmailVerified] = useState(props.user.profile?.emailVerified === true);
  const [phoneVerified, setPhoneVerified] = useState(props.user.profile?.phoneNumberVerified === true);
  const action = useAction();
  const set = (key: string) => (v: string) => setDraft({ ...draft, [key]: v });
  // The registry names a field by its model name (email, address.postalCode), maybe under profile.
  const failed = action.field?.replace(/^profile\./, '');
  const errorFor = (key: string) => (failed === key ? action.error : undefined);
  const shownInField = failed !== undefined && failed in draft;
  return (
    <form
      class="card form"
      aria-labelledby="profile-title"
      onSubmit={(e) => {
        e.preventDefault();
        void action.run(async () => {
          const value = (k: string) => (draft[k]?.trim() === '' ? null : (draft[k]?.trim() ?? null));
          const profile: Record<string, unknown> = { emailVerified, phoneNumberVerified: phoneVerified };
          for (const [key] of TEXT) profile[key] = value(key);
          const address: Record<string, string | null> = {};
          for (const [key] of ADDRESS) address[key] = value(`address.${key}`);
          profile.address = Object.values(address).every((v) => v === null) ? null : address;
          await patch(`/users/${encodeURIComponent(props.user.userName)}`, { profile });
          props.onChanged(`Profile of ${props.user.userName} saved.`);
        });
      }}
    >
      <h2 id="profile-title">Profile (OpenID Connect claims)</h2>
      <p class="muted">
        What applications signing this user in receive, by scope: <code>profile</code>, <code>email</code>, <code>phone</code>, <code>address</code>. Leave a field empty to send nothing for it.
      </p>
      {TEXT.map(([key, label, claim, hint]) => (
        <TextField key={key} label={label} name={key} value={draft[key] ?? ''} onInput={set(key)} hint={`Claim ${claim}.${hint === undefined ? '' : ` ${hint}`}`} error={errorFor(key)} />
      ))}
      <Checkbox label="Email verified" name="emailVerified" checked={emailVerified} onChange={setEmailVerified} hint="Claim email_verified: tell applications only what you have checked." />
      <Checkbox label="Phone number verified" name="phoneNumberVerified" checked={phoneVerified} onChange={setPhoneVerified} hint="Claim phone_number_verified." />
      <fieldset>
        <legend>Address (claim address)</legend>
        {ADDRESS.map(([key, label]) => (
          <TextField key={key} label={label} name={`address.${key}`} value={draft[`address.${key}`] ?? ''} onInput={set(`address.${key}`)} error={errorFor(`address.${key}`)} />
        ))}
      </fieldset>
      {action.error === undefined || shownInField ? null : <Alert>{action.error}</Alert>}
      <div class="form-actions">
        <button type="submit" class="primary" disabled={action.busy}>
          Save profile
        </button>
      </div>
    </form>
  );
}
