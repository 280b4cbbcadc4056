import { connect } from 'node:net';

/**
 * Is the member's process gone? Called when its stream to the hub drops. A
 * port that answers ECONNREFUSED has no listener: the kernel of a live host
 * refuses for a process that no longer exists. If every probed port refuses,
 * death is certain enough to act at once; anything else (a connection, a
 * timeout, an unreachable host) is left to the dead-after silence rule.
 * A wrong judgement costs a reconnect, never a corrupted mailbox: the epoch
 * fences the old owner (DESIGN.md).
 */
export type ProbeResult = 'refused' | 'open' | 'unknown';

/** Per-port connect timeout: a live process on a loaded host accepts well within this. */
export const PROBE_TIMEOUT_MS = 500;

export function probePort(host: string, port: number, timeoutMs = PROBE_TIMEOUT_MS): Promise<ProbeResult> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (r: ProbeResult) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(r);
    };
    const timer = setTimeout(() => done('unknown'), timeoutMs);
    socket.once('connect', () => done('open'));
    socket.once('error', (err: NodeJS.ErrnoException) => done(err.code === 'ECONNREFUSED' ? 'refused' : 'unknown'));
  });
}

/** True only when every given port refuses. */
async function allRefuse(host: string, ports: readonly number[]): Promise<boolean> {
  const results = await Promise.all(ports.map((p) => probePort(host, p)));
  return results.every((r) => r === 'refused');
}

/**
 * Delays between probes after a stream drop. A process killed with SIGKILL
 * closes its descriptors one by one as it exits: the stream to the hub may
 * close a moment before its listening sockets do, and a probe in that moment
 * still connects. So a port that answers is asked again for a short while,
 * well inside dead-after; a live process keeps answering and costs only
 * these probes.
 */
export const PROBE_RETRY_MS: readonly number[] = [100, 250, 500, 1000];

/**
 * True once every given port refuses, probing again after each delay in
 * `retryMs` while `stillDropped()` (the member has not reconnected its stream).
 */
export async function processGone(host: string, ports: readonly number[], stillDropped: () => boolean = () => true, retryMs: readonly number[] = PROBE_RETRY_MS): Promise<boolean> {
  if (ports.length === 0) return false;
  if (await allRefuse(host, ports)) return true;
  for (const ms of retryMs) {
    await new Promise((r) => setTimeout(r, ms));
    if (!stillDropped()) return false;
    if (await allRefuse(host, ports)) return true;
  }
  return false;
}
