import { useState } from 'preact/hooks';
import { api, ApiError, enc, type Domain, type User } from '../api';
import { messageOf, usePoll } from '../poll';

/** Users shown per search (the API pages; the page asks for one page). */
const USERS_SHOWN = 100;

export function Directory({ readOnly }: { readOnly: boolean }) {
  const [search, setSearch] = useState('');
  const [applied, setApplied] = useState('');
  const domains = usePoll(() => api.get<{ domains: Domain[] }>('/v1/domains?limit=1000'), 5_000);
  const users = usePoll(() => api.get<{ users: User[]; next: string | null }>(`/v1/users?limit=${USERS_SHOWN}${applied ? `&search=${enc(applied)}` : ''}`), 5_000, applied);
  const [message, setMessage] = useState<{ text: string; bad: boolean } | null>(null);
  const [newDomain, setNewDomain] = useState('');
  const [newUser, setNewUser] = useState({ address: '', password: '' });
  const [csv, setCsv] = useState('');
  const [quota, setQuota] = useState({ address: '', mib: '' });

  const act = async (what: () => Promise<unknown>, ok: string | ((r: unknown) => string)) => {
    setMessage(null);
    try {
      const r = await what();
      setMessage({ text: typeof ok === 'string' ? ok : ok(r), bad: false });
      domains.reload();
      users.reload();
    } catch (err) {
      // The API names the bad line or field (bulk import: "line 3: ..."); show them all.
      const detail = err instanceof ApiError && err.problems.length ? `: ${err.problems.map((p) => `${p.path}: ${p.message}`).join('; ')}` : '';
      setMessage({ text: `${messageOf(err)}${detail}`, bad: true });
    }
  };

  return (
    <>
      {message && (
        <p class={message.bad ? 'error' : 'ok'} role={message.bad ? 'alert' : 'status'} data-testid="directory-message">
          {message.text}
        </p>
      )}
      <section aria-labelledby="domains-h">
        <h2 id="domains-h">Domains</h2>
        <table data-testid="domains">
          <thead>
            <tr>
              <th scope="col">Domain</th>
              <th scope="col">Users</th>
              <th scope="col">Aliases</th>
            </tr>
          </thead>
          <tbody>
            {(domains.data?.domains ?? []).map((d) => (
              <tr key={d.name}>
                <th scope="row">{d.name}</th>
                <td>{(d as Domain & { users?: number }).users ?? '—'}</td>
                <td>{((d as Domain & { aliases?: string[] }).aliases ?? []).join(', ') || '—'}</td>
              </tr>
            ))}
          </tbody>
        </table>
        {!readOnly && (
          <form onSubmit={(e) => (e.preventDefault(), void act(() => api.post('/v1/domains', { name: newDomain.trim() }), `domain ${newDomain} added`))}>
            <label for="new-domain">New domain</label>
            <input id="new-domain" required value={newDomain} onInput={(e) => setNewDomain((e.target as HTMLInputElement).value)} />
            <button type="submit">Add domain</button>
          </form>
        )}
      </section>
      <section aria-labelledby="users-h">
        <h2 id="users-h">Users</h2>
        <form role="search" onSubmit={(e) => (e.preventDefault(), setApplied(search.trim()))}>
          <label for="user-search">Search users</label>
          <input id="user-search" type="search" value={search} onInput={(e) => setSearch((e.target as HTMLInputElement).value)} />
          <button type="submit">Search</button>
        </form>
        <table data-testid="users">
          <thead>
            <tr>
              <th scope="col">Address</th>
              <th scope="col">Enabled</th>
              <th scope="col">Quota</th>
              {!readOnly && <th scope="col">Action</th>}
            </tr>
          </thead>
          <tbody>
            {(users.data?.users ?? []).map((u) => (
              <tr key={u.address} data-user={u.address}>
                <th scope="row">{u.address}</th>
                <td>{u.enabled ? 'yes' : 'disabled'}</td>
                <td>{quotaText(u.quota)}</td>
                {!readOnly && (
                  <td>
                    <button type="button" onClick={() => void act(() => api.post(`/v1/users/${enc(u.address)}/${u.enabled ? 'disable' : 'enable'}`), `${u.address} ${u.enabled ? 'disabled' : 'enabled'}`)}>
                      {u.enabled ? 'Disable' : 'Enable'} {u.address}
                    </button>
                  </td>
                )}
              </tr>
            ))}
          </tbody>
        </table>
        {users.data?.next && <p>More than {USERS_SHOWN} users match; narrow the search.</p>}
        {!readOnly && (
          <form
            onSubmit={(e) => {
              e.preventDefault();
              const mib = quota.mib.trim();
              void act(() => api.put(`/v1/users/${enc(quota.address.trim())}/quota`, { quota: mib === '' ? null : { bytes: Math.round(Number(mib) * 1048576) } }), `quota of ${quota.address} set`);
            }}
          >
            <fieldset>
              <legend>Set a quota</legend>
              <label for="quota-user">Address</label>
              <input id="quota-user" type="email" required value={quota.address} onInput={(e) => setQuota({ ...quota, address: (e.target as HTMLInputElement).value })} />
              <label for="quota-mib">Quota in MiB (empty: the domain default)</label>
              <input id="quota-mib" type="number" min="0" value={quota.mib} onInput={(e) => setQuota({ ...quota, mib: (e.target as HTMLInputElement).value })} />
              <button type="submit">Set quota</button>
            </fieldset>
          </form>
        )}
        {!readOnly && (
          <form onSubmit={(e) => (e.preventDefault(), void act(() => api.post('/v1/users', newUser), `user ${newUser.address} added`))}>
            <fieldset>
              <legend>Add a user</legend>
              <label for="new-user">Address</label>
              <input id="new-user" type="email" required value={newUser.address} onInput={(e) => setNewUser({ ...newUser, address: (e.target as HTMLInputElement).value })} />
              <label for="new-password">Password</label>
              <input id="new-password" type="password" autocomplete="new-password" required value={newUser.password} onInput={(e) => setNewUser({ ...newUser, password: (e.target as HTMLInputElement).value })} />
              <button type="submit">Add user</button>
            </fieldset>
          </form>
        )}
        {!readOnly && (
          <form
            onSubmit={(e) => {
              e.preventDefault();
              void act(
                async () => {
                  const r = await api.csv<{ imported: number }>('/v1/users/import', csv);
                  setCsv('');
                  return r;
                },
                (r) => `imported ${(r as { imported: number }).imported} users`,
              );
            }}
          >
            <fieldset>
              <legend>Bulk import (CSV, all or nothing)</legend>
              <label for="csv">CSV with a header line: address,passwordHash[,quotaBytes,quotaMessages,enabled]</label>
              <textarea id="csv" rows={4} value={csv} onInput={(e) => setCsv((e.target as HTMLTextAreaElement).value)} />
              <label for="csv-file">or a file</label>
              <input id="csv-file" type="file" accept=".csv,text/csv" onChange={(e) => void (e.target as HTMLInputElement).files?.[0]?.text().then(setCsv)} />
              <button type="submit">Import</button>
            </fieldset>
          </form>
        )}
      </section>
    </>
  );
}

function quotaText(q: User['quota']): string {
  if (q === null) return 'domain default';
  const o = q as unknown as { bytes?: number; messages?: number };
  return [o.bytes !== undefined ? `${Math.round(o.bytes / 1048576)} MiB` : '', o.messages !== undefined ? `${o.messages} messages` : ''].filter(Boolean).join(', ') || 'none';
}
