import { useEffect, useState } from 'preact/hooks';
import { api, type ActivityEvent, type HubStatus, type Member } from '../api';
import { ago, POLL_MS, usePoll, usePush } from '../poll';

/** While the event stream is open, new events arrive pushed; the members table (heartbeat ages) still refreshes at this pace. */
const PUSHED_POLL_MS = 5_000;

interface Data {
  hub: HubStatus;
  members: Member[];
  events: ActivityEvent[];
}

async function load(): Promise<Data> {
  const [hub, members, events] = await Promise.all([api.get<HubStatus>('/v1/hub'), api.get<{ members: Member[] }>('/v1/members'), api.get<{ events: ActivityEvent[] }>('/v1/events')]);
  return { hub, members: members.members, events: events.events };
}

function health(m: Member): { text: string; cls: string } {
  if (m.state === 'dead') return { text: `dead${m.deathReason ? ` (${m.deathReason})` : ''}`, cls: 'bad' };
  if (m.nodeState === 'drained') return { text: 'healthy, drained', cls: 'warn' };
  if (!m.streamConnected) return { text: 'live, stream down', cls: 'warn' };
  return { text: 'healthy', cls: 'good' };
}

export function Overview(_: { readOnly: boolean }) {
  const [pushed, setPushed] = useState(false);
  const { data, error, reload } = usePoll(load, pushed ? PUSHED_POLL_MS : POLL_MS);
  // A cluster event (a member joined or died, a hub took over) reloads at once; polling stays the fallback.
  const streaming = usePush('/v1/events/stream', ['activity'], reload);
  useEffect(() => setPushed(streaming), [streaming]);
  if (!data) return <p role="status">{error ?? 'Loading…'}</p>;
  const dead = data.members.filter((m) => m.state === 'dead').length;
  return (
    <>
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
      <section aria-labelledby="hub-h">
        <h2 id="hub-h">Hub</h2>
        <p data-testid="hub-status" data-push={pushed ? 'stream' : 'poll'}>
          This hub <strong>{data.hub.id}</strong> is <strong>{data.hub.active ? 'active' : 'standby'}</strong> (lease epoch {data.hub.epoch})
          {!data.hub.active && data.hub.activeUrl ? `; the active hub is ${data.hub.activeUrl}` : ''}.
        </p>
        <p data-testid="member-summary">
          {data.members.length} members, {data.members.length - dead} live, <span class={dead ? 'bad' : ''}>{dead} dead</span>
        </p>
      </section>
      <section aria-labelledby="members-h">
        <h2 id="members-h">Members</h2>
        <table data-testid="members">
          <thead>
            <tr>
              <th scope="col">Id</th>
              <th scope="col">Role</th>
              <th scope="col">Site</th>
              <th scope="col">Version</th>
              <th scope="col">Health</th>
              <th scope="col">Heartbeat age</th>
              <th scope="col">Uptime</th>
              <th scope="col">Settings applied</th>
            </tr>
          </thead>
          <tbody>
            {data.members.map((m) => {
              const h = health(m);
              return (
                <tr key={m.id} data-member={m.id} data-state={m.state} class={m.state === 'dead' ? 'row-dead' : undefined}>
                  <th scope="row">{m.id}</th>
                  <td>{m.role}</td>
                  <td>{m.site}</td>
                  <td>{m.version}</td>
                  <td class={h.cls} data-testid="health">
                    {h.text}
                  </td>
                  <td>{ago(m.heartbeatAgeMs)}</td>
                  <td>{m.upSince ? ago(Date.now() - Date.parse(m.upSince)) : '—'}</td>
                  <td>{m.applied ? `v${m.applied.settings}` : '—'}</td>
                </tr>
              );
            })}
          </tbody>
        </table>
      </section>
      <section aria-labelledby="events-h">
        <h2 id="events-h">Failover events</h2>
        {data.events.length === 0 ? (
          <p>No events yet.</p>
        ) : (
          <ol class="timeline" data-testid="events">
            {data.events.map((e, i) => (
              <li key={`${e.at}-${i}`} class={e.kind === 'member-dead' ? 'bad' : undefined}>
                <time dateTime={e.at}>{new Date(e.at).toLocaleTimeString()}</time> {e.detail}
              </li>
            ))}
          </ol>
        )}
      </section>
    </>
  );
}
