import { CLUSTER_PROTOCOL_VERSION, RegisterResponse, StreamEvent } from '../../mail-runtime/hub/protocol';
import { CLUSTER_TOKEN } from './hub';

/**
 * A node's membership in the hub, held by the test on behalf of a real
 * node process that does not talk to the hub itself: register with the
 * node's real ports, heartbeat, hold the stream and acknowledge every
 * placement proposal (the node process serves what its users file holds).
 */
export class NodeMembership {
  private timer: NodeJS.Timeout | undefined;
  private readonly abort = new AbortController();
  private counter = 0;
  private stopped = false;
  incarnation = 0;

  private constructor(
    private readonly hubUrl: string,
    readonly id: string,
  ) {}

  static async join(hubUrl: string, id: string, ports: Record<string, number>): Promise<NodeMembership> {
    const m = new NodeMembership(hubUrl, id);
    const reg = RegisterResponse.parse(
      await m.post('/v1/cluster/register', { protocol: CLUSTER_PROTOCOL_VERSION, memberId: id, role: 'node', site: 'main', version: 'test', advertise: '127.0.0.1', ports }),
    );
    m.incarnation = reg.incarnation;
    const beat = (): void => {
      if (m.stopped) return;
      m.post('/v1/cluster/heartbeat', { memberId: id, incarnation: m.incarnation, counter: ++m.counter, applied: { placement: 0, settings: 0 } })
        .catch(() => undefined)
        .finally(() => {
          if (!m.stopped) m.timer = setTimeout(beat, reg.timing.heartbeatMs);
        });
    };
    beat();
    void m.stream();
    return m;
  }

  private async post(path: string, body: unknown): Promise<unknown> {
    const res = await fetch(`${this.hubUrl}${path}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${CLUSTER_TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(5000),
    });
    const json: unknown = await res.json();
    if (res.status !== 200) throw new Error(`${path}: ${res.status} ${JSON.stringify(json)}`);
    return json;
  }

  private async stream(): Promise<void> {
    try {
      const res = await fetch(`${this.hubUrl}/v1/cluster/stream?member=${this.id}&incarnation=${this.incarnation}`, {
        headers: { authorization: `Bearer ${CLUSTER_TOKEN}` },
        signal: this.abort.signal,
      });
      const reader = res.body!.getReader();
      let buf = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        buf += Buffer.from(value).toString('utf8');
        let i: number;
        while ((i = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, i);
          buf = buf.slice(i + 1);
          if (!line.trim()) continue;
          const ev = StreamEvent.safeParse(JSON.parse(line));
          if (ev.success && ev.data.type === 'proposal') {
            await this.post('/v1/cluster/ack', { memberId: this.id, incarnation: this.incarnation, proposal: ev.data.proposal }).catch(() => undefined);
          }
        }
      }
    } catch {
      /* aborted, or the hub went away */
    }
  }

  /** Stops heartbeating and drops the stream (the hub then probes the node's ports). */
  leave(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.abort.abort();
  }
}
