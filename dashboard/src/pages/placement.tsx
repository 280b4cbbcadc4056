import { useRef, useState } from 'preact/hooks';
import { api, enc, type OwnerAnswer, type PlacementSummary } from '../api';
import { messageOf, usePoll } from '../poll';

export function Placement({ readOnly }: { readOnly: boolean }) {
  const { data, error, reload } = usePoll(() => api.get<PlacementSummary>('/v1/placement/summary'));
  const [query, setQuery] = useState('');
  const [owner, setOwner] = useState<OwnerAnswer | null>(null);
  const [target, setTarget] = useState('');
  const [message, setMessage] = useState<{ text: string; bad: boolean } | null>(null);
  const [draining, setDraining] = useState<string | null>(null);
  const dialog = useRef<HTMLDialogElement>(null);

  const search = async (e: Event) => {
    e.preventDefault();
    setMessage(null);
    try {
      setOwner(await api.get<OwnerAnswer>(`/v1/placement/owner/${enc(query.trim())}`));
    } catch (err) {
      setOwner(null);
      setMessage({ text: messageOf(err), bad: true });
    }
  };
  const move = async (e: Event) => {
    e.preventDefault();
    if (!owner) return;
    try {
      const r = await api.post<{ version: number }>('/v1/placement/move', { address: owner.address, node: target || null });
      setMessage({ text: `${owner.address} moved (placement v${r.version})`, bad: false });
      setOwner(await api.get<OwnerAnswer>(`/v1/placement/owner/${enc(owner.address)}`));
      reload();
    } catch (err) {
      setMessage({ text: messageOf(err), bad: true });
    }
  };
  const askDrain = (id: string) => {
    setDraining(id);
    dialog.current?.showModal();
  };
  const drain = async () => {
    const id = draining;
    dialog.current?.close();
    if (!id) return;
    try {
      const r = await api.post<{ version: number }>('/v1/placement/drain', { node: id });
      setMessage({ text: `${id} drained (placement v${r.version})`, bad: false });
      reload();
    } catch (err) {
      setMessage({ text: messageOf(err), bad: true });
    }
  };
  const undrain = async (id: string) => {
    try {
      const r = await api.post<{ version: number }>('/v1/placement/undrain', { node: id });
      setMessage({ text: `${id} is back on the ring (placement v${r.version})`, bad: false });
      reload();
    } catch (err) {
      setMessage({ text: messageOf(err), bad: true });
    }
  };

  return (
    <>
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
      {message && (
        <p class={message.bad ? 'error' : 'ok'} role={message.bad ? 'alert' : 'status'} data-testid="placement-message">
          {message.text}
        </p>
      )}
      <section aria-labelledby="nodes-h">
        <h2 id="nodes-h">Nodes {data ? `(placement v${data.version})` : ''}</h2>
        {data && (
          <table data-testid="placement-nodes">
            <thead>
              <tr>
                <th scope="col">Node</th>
                <th scope="col">State</th>
                <th scope="col">Users</th>
                <th scope="col">Domains</th>
                {!readOnly && <th scope="col">Action</th>}
              </tr>
            </thead>
            <tbody>
              {data.nodes.map((n) => (
                <tr key={n.id} data-node={n.id} data-state={n.state} class={n.state === 'dead' ? 'row-dead' : undefined}>
                  <th scope="row">{n.id}</th>
                  <td class={n.state === 'active' ? 'good' : n.state === 'dead' ? 'bad' : 'warn'}>{n.state}</td>
                  <td data-testid="users">{n.users}</td>
                  <td>{n.domains.join(', ') || '—'}</td>
                  {!readOnly && (
                    <td>
                      {n.state === 'active' && (
                        <button type="button" onClick={() => askDrain(n.id)}>
                          Drain {n.id}
                        </button>
                      )}
                      {n.state === 'drained' && (
                        <button type="button" onClick={() => void undrain(n.id)}>
                          Undrain {n.id}
                        </button>
                      )}
                    </td>
                  )}
                </tr>
              ))}
            </tbody>
          </table>
        )}
        {data && data.unplaced > 0 && <p class="bad">{data.unplaced} users have no live node.</p>}
      </section>
      <section aria-labelledby="find-h">
        <h2 id="find-h">Find a user</h2>
        <form onSubmit={search} role="search">
          <label for="owner-q">Address</label>
          <input id="owner-q" type="email" required value={query} onInput={(e) => setQuery((e.target as HTMLInputElement).value)} />
          <button type="submit">Find owner</button>
        </form>
        {owner && (
          <div data-testid="owner">
            <p>
              <strong>{owner.address}</strong> (mailbox {owner.mailbox}) is served by <strong data-testid="owner-node">{owner.node ?? 'no node'}</strong>, epoch{' '}
              <span data-testid="owner-epoch">{owner.epoch ?? '—'}</span>.
            </p>
            {!readOnly && data && (
              <form onSubmit={move}>
                <label for="move-to">Move to</label>
                <select id="move-to" value={target} onChange={(e) => setTarget((e.target as HTMLSelectElement).value)}>
                  <option value="">back to the ring (no override)</option>
                  {data.nodes
                    .filter((n) => n.state === 'active')
                    .map((n) => (
                      <option key={n.id} value={n.id}>
                        {n.id}
                      </option>
                    ))}
                </select>
                <button type="submit">Move user</button>
              </form>
            )}
          </div>
        )}
      </section>
      {!readOnly && (
      <dialog ref={dialog} aria-labelledby="drain-h">
        <h2 id="drain-h">Drain {draining}?</h2>
        <p>Every mailbox on {draining} moves to the other nodes; clients reconnect.</p>
        <button type="button" onClick={() => void drain()}>
          Drain
        </button>{' '}
        <button type="button" onClick={() => dialog.current?.close()}>
          Cancel
        </button>
      </dialog>
      )}
    </>
  );
}
