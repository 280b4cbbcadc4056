import * as fs from 'node:fs';
import * as path from 'node:path';
import { failoverDir } from './lease';

/** One step of a failover, failback or promotion, as recorded. */
export interface StepRecord {
  step: 'lease' | 'fence' | 'start' | 'traffic-switch' | 'stop-standby';
  ok: boolean;
  ms: number;
  detail?: string;
}

export interface FailoverEvent {
  at: string;
  kind: 'failover' | 'promote' | 'failback' | 'alert';
  reason: string;
  /** The site now active (absent for an alert). */
  active?: 'primary' | 'standby';
  epoch?: number;
  ok: boolean;
  steps: StepRecord[];
}

/**
 * `<storage>/failover/events.jsonl`: one JSON line per event, appended and
 * fsynced, so either site's operator reads the same history.
 */
export class EventLog {
  readonly file: string;
  constructor(storageRoot: string) {
    this.file = path.join(failoverDir(storageRoot), 'events.jsonl');
  }

  async append(e: FailoverEvent): Promise<void> {
    await fs.promises.mkdir(path.dirname(this.file), { recursive: true });
    const fh = await fs.promises.open(this.file, 'a', 0o600);
    try {
      await fh.write(`${JSON.stringify(e)}\n`);
      await fh.sync();
    } finally {
      await fh.close();
    }
  }

  /** Every readable event, oldest first (a torn last line after a crash is skipped). */
  async read(): Promise<FailoverEvent[]> {
    let text: string;
    try {
      text = await fs.promises.readFile(this.file, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw e;
    }
    const out: FailoverEvent[] = [];
    for (const line of text.split('\n')) {
      if (!line.trim()) continue;
      try {
        out.push(JSON.parse(line) as FailoverEvent);
      } catch {
        // A torn line from a crash mid-append.
      }
    }
    return out;
  }
}
