import type { ServerResponse } from 'node:http';
import type { StreamEvent } from '../protocol';

/**
 * The long-lived NDJSON response held open for each member (protocol:
 * cluster.ts explains why NDJSON). One per member: a new one replaces the
 * old. A member that does not read its stream is cut off once this much is
 * queued for it, rather than growing the hub's memory (it reconnects and
 * gets a fresh snapshot in its next register or hello).
 */
export const STREAM_MAX_BUFFERED_BYTES = 8 * 1024 * 1024;

interface Stream {
  res: ServerResponse;
  incarnation: number;
}

export class Streams {
  private readonly open = new Map<string, Stream>();

  constructor(private readonly onDrop: (memberId: string, incarnation: number) => void) {}

  attach(memberId: string, incarnation: number, res: ServerResponse, hello: StreamEvent): void {
    const old = this.open.get(memberId);
    if (old) this.detach(memberId, old, false);
    res.writeHead(200, { 'content-type': 'application/x-ndjson', 'cache-control': 'no-store', 'x-accel-buffering': 'no' });
    res.flushHeaders();
    const stream: Stream = { res, incarnation };
    this.open.set(memberId, stream);
    res.once('close', () => {
      if (this.open.get(memberId) === stream) {
        this.open.delete(memberId);
        this.onDrop(memberId, incarnation);
      }
    });
    this.write(memberId, stream, hello);
  }

  has(memberId: string): boolean {
    return this.open.has(memberId);
  }

  send(memberId: string, event: StreamEvent): boolean {
    const s = this.open.get(memberId);
    if (!s) return false;
    return this.write(memberId, s, event);
  }

  broadcast(event: StreamEvent, filter: (memberId: string) => boolean = () => true): void {
    const line = `${JSON.stringify(event)}\n`;
    for (const [id, s] of this.open) if (filter(id)) this.writeLine(id, s, line);
  }

  /** Ends a member's stream without reporting a drop (it was fenced, or the hub steps down). */
  close(memberId: string, last?: StreamEvent): void {
    const s = this.open.get(memberId);
    if (!s) return;
    if (last) this.write(memberId, s, last);
    this.detach(memberId, s, false);
  }

  closeAll(last?: StreamEvent): void {
    for (const id of [...this.open.keys()]) this.close(id, last);
  }

  private write(id: string, s: Stream, event: StreamEvent): boolean {
    return this.writeLine(id, s, `${JSON.stringify(event)}\n`);
  }

  private writeLine(id: string, s: Stream, line: string): boolean {
    if (s.res.writableLength > STREAM_MAX_BUFFERED_BYTES) {
      // Reported as a drop: the hub probes the member like any broken stream.
      this.open.delete(id);
      s.res.destroy();
      this.onDrop(id, s.incarnation);
      return false;
    }
    s.res.write(line);
    return true;
  }

  private detach(id: string, s: Stream, report: boolean): void {
    this.open.delete(id);
    s.res.end();
    if (report) this.onDrop(id, s.incarnation);
  }
}
