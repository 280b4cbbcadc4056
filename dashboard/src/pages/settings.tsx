import { useState } from 'preact/hooks';
import { api, ApiError, type Member, type Problem, type SettingsDiff, type SettingsView } from '../api';
import { messageOf, usePoll } from '../poll';

/** The fields this page edits; every other section of the document is sent back as it came. */
interface Form {
  maxConnections: string;
  maxMessageBytes: string;
  blockedIps: string;
}

const FIELDS: { key: keyof Form; path: string; label: string; hint: string }[] = [
  { key: 'maxConnections', path: 'limits.maxConnections', label: 'Max connections per member', hint: 'Empty: each member keeps its own config value.' },
  { key: 'maxMessageBytes', path: 'limits.maxMessageBytes', label: 'Max message size (bytes)', hint: 'RFC 1870 SIZE / RFC 7889 APPENDLIMIT; at least 1024.' },
  { key: 'blockedIps', path: 'blocklist.ips', label: 'Blocked client addresses (one per line)', hint: 'IP addresses or CIDR blocks.' },
];

function formOf(s: Record<string, unknown>): Form {
  const limits = (s.limits ?? {}) as { maxConnections?: number; maxMessageBytes?: number };
  const blocklist = (s.blocklist ?? {}) as { ips?: string[] };
  return { maxConnections: limits.maxConnections?.toString() ?? '', maxMessageBytes: limits.maxMessageBytes?.toString() ?? '', blockedIps: (blocklist.ips ?? []).join('\n') };
}

/** Numbers as typed (a bad one is the API's to reject, named by path); empty means "not set". */
function documentOf(base: Record<string, unknown>, f: Form): Record<string, unknown> {
  const num = (v: string) => (v.trim() === '' ? undefined : Number(v.trim()));
  const limits = { ...((base.limits ?? {}) as object), maxConnections: num(f.maxConnections), maxMessageBytes: num(f.maxMessageBytes) };
  const ips = f.blockedIps
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
  const doc: Record<string, unknown> = { ...base, limits: JSON.parse(JSON.stringify(limits)) as object };
  if (Object.keys(doc.limits as object).length === 0) delete doc.limits;
  if (ips.length || base.blocklist) doc.blocklist = { ...((base.blocklist ?? {}) as object), ips };
  return doc;
}

/** `body.settings.limits.maxConnections` → `limits.maxConnections`. */
function fieldPath(p: string): string {
  return p.replace(/^body\./, '').replace(/^settings\./, '');
}

export function Settings({ readOnly }: { readOnly: boolean }) {
  const view = usePoll(() => Promise.all([api.get<SettingsView>('/v1/settings'), api.get<{ members: Member[] }>('/v1/members')]));
  const [form, setForm] = useState<Form | null>(null);
  const [base, setBase] = useState<SettingsView | null>(null);
  const [problems, setProblems] = useState<Problem[]>([]);
  const [diff, setDiff] = useState<SettingsDiff | null>(null);
  const [message, setMessage] = useState<{ text: string; bad: boolean } | null>(null);

  const [current, members] = view.data ?? [undefined, undefined];
  if (!current || !members) return <p role="status">{view.error ?? 'Loading…'}</p>;
  const editing = base ?? current;
  const f = form ?? formOf(editing.settings);
  const set = (k: keyof Form, v: string) => {
    if (!base) setBase(current);
    setForm({ ...f, [k]: v });
    setDiff(null);
  };
  const problemFor = (path: string) => problems.filter((p) => fieldPath(p.path) === path || fieldPath(p.path).startsWith(`${path}.`) || fieldPath(p.path).startsWith(`${path}[`));
  const other = problems.filter((p) => !FIELDS.some((fd) => problemFor(fd.path).includes(p)));

  const review = async (e: Event) => {
    e.preventDefault();
    setMessage(null);
    const doc = documentOf(editing.settings, f);
    try {
      const v = await api.post<{ ok: boolean; problems: Problem[] }>('/v1/settings/validate', { settings: doc });
      setProblems(v.problems);
      if (!v.ok) {
        setDiff(null);
        return;
      }
      setDiff(await api.post<SettingsDiff>('/v1/settings/diff', { settings: doc }));
    } catch (err) {
      setProblems(err instanceof ApiError ? err.problems : []);
      setMessage({ text: messageOf(err), bad: true });
    }
  };
  const apply = async () => {
    const doc = documentOf(editing.settings, f);
    try {
      const r = await api.put<{ version: number }>('/v1/settings', { settings: doc, baseVersion: editing.version });
      setMessage({ text: `Settings version ${r.version} applied; members pick it up live.`, bad: false });
      setProblems([]);
      setDiff(null);
      setBase(null);
      setForm(null);
      view.reload();
    } catch (err) {
      setProblems(err instanceof ApiError ? err.problems : []);
      setMessage({ text: messageOf(err), bad: true });
    }
  };

  return (
    <>
      {message && (
        <p class={message.bad ? 'error' : 'ok'} role={message.bad ? 'alert' : 'status'} data-testid="settings-message">
          {message.text}
        </p>
      )}
      <p data-testid="settings-version">
        Current version: <strong>{current.version}</strong>
        {base && base.version !== current.version ? ` (you are editing version ${base.version})` : ''}
      </p>
      <form onSubmit={review} noValidate>
        <fieldset disabled={readOnly}>
          <legend>Cluster settings{readOnly ? ' (read-only)' : ''}</legend>
          {FIELDS.map((fd) => {
            const errs = problemFor(fd.path);
            const id = `set-${fd.key}`;
            return (
              <div class="field" key={fd.key}>
                <label for={id}>{fd.label}</label>
                {fd.key === 'blockedIps' ? (
                  <textarea id={id} rows={3} value={f[fd.key]} onInput={(e) => set(fd.key, (e.target as HTMLTextAreaElement).value)} aria-invalid={errs.length ? 'true' : undefined} aria-describedby={`${id}-hint${errs.length ? ` ${id}-err` : ''}`} />
                ) : (
                  <input id={id} type="number" inputMode="numeric" value={f[fd.key]} onInput={(e) => set(fd.key, (e.target as HTMLInputElement).value)} aria-invalid={errs.length ? 'true' : undefined} aria-describedby={`${id}-hint${errs.length ? ` ${id}-err` : ''}`} />
                )}
                <small id={`${id}-hint`}>{fd.hint}</small>
                {errs.length > 0 && (
                  <p id={`${id}-err`} class="error field-error" data-testid="field-error">
                    {errs.map((p) => p.message).join('; ')}
                  </p>
                )}
              </div>
            );
          })}
          {other.length > 0 && (
            <ul class="error" data-testid="other-errors">
              {other.map((p) => (
                <li key={p.path}>
                  {fieldPath(p.path)}: {p.message}
                </li>
              ))}
            </ul>
          )}
          <button type="submit">Review changes</button>
        </fieldset>
      </form>
      {diff && (
        <section aria-labelledby="diff-h" data-testid="diff">
          <h2 id="diff-h">Changes against version {diff.baseVersion}</h2>
          {diff.changes.length === 0 ? (
            <p>Nothing changes.</p>
          ) : (
            <table>
              <thead>
                <tr>
                  <th scope="col">Setting</th>
                  <th scope="col">Change</th>
                  <th scope="col">From</th>
                  <th scope="col">To</th>
                </tr>
              </thead>
              <tbody>
                {diff.changes.map((c) => (
                  <tr key={c.path}>
                    <th scope="row">{c.path}</th>
                    <td>{c.op}</td>
                    <td>{c.from === undefined ? '—' : JSON.stringify(c.from)}</td>
                    <td>{c.to === undefined ? '—' : JSON.stringify(c.to)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
          <button type="button" onClick={() => void apply()} disabled={diff.changes.length === 0}>
            Apply version {current.version + 1}
          </button>
        </section>
      )}
      <section aria-labelledby="applied-h">
        <h2 id="applied-h">Applied by members</h2>
        <table data-testid="applied">
          <thead>
            <tr>
              <th scope="col">Member</th>
              <th scope="col">Role</th>
              <th scope="col">Applied version</th>
            </tr>
          </thead>
          <tbody>
            {members.members
              .filter((m) => m.state === 'live')
              .map((m) => {
                const v = current.applied[m.id];
                return (
                  <tr key={m.id} data-member={m.id}>
                    <th scope="row">{m.id}</th>
                    <td>{m.role}</td>
                    <td class={v === current.version ? 'good' : 'warn'} data-testid="applied-version">
                      {v === undefined ? '—' : `v${v}`}
                      {v === current.version ? ' (current)' : ''}
                    </td>
                  </tr>
                );
              })}
          </tbody>
        </table>
      </section>
    </>
  );
}
