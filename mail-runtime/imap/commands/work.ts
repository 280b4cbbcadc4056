import { LIMITS } from '../../common/limits';
import type { ImapResponse } from '../protocol';

/** Units counted between two looks at the clock (reading it costs more than a cheap unit of work). */
const CHECK_EVERY = 16;

/**
 * Cooperative time slicing for a command that walks many messages or
 * folders. Node runs every session on one thread: a loop that never gives
 * the event loop back stalls every other session on the node (issue 9: a
 * 3,000-message SEARCH froze a node for 13 s). Awaiting a resolved promise
 * is not enough, microtasks run before any I/O; so every
 * `LIMITS.imapWorkSliceMs` of work the command waits for `setImmediate`,
 * which lets the poll phase read and answer other sessions first.
 *
 * Use: `if (work.due()) await work.pause();` once per item.
 */
export class CommandWork {
  private sliceStart = performance.now();
  private counted = 0;

  constructor(private readonly sliceMs: number = LIMITS.imapWorkSliceMs) {}

  /** Counts `units` of work done; true when the current slice is used up and the command should `pause()`. */
  due(units = 1): boolean {
    this.counted += units;
    if (this.counted < CHECK_EVERY) return false;
    this.counted = 0;
    return performance.now() - this.sliceStart >= this.sliceMs;
  }

  /** Lets other sessions run (their socket reads and replies), then starts a new slice. */
  async pause(): Promise<void> {
    await new Promise<void>((resolve) => setImmediate(resolve));
    this.sliceStart = performance.now();
  }
}

/**
 * Sends many responses a slice at a time (compiling and writing 100,000
 * EXPUNGE or FETCH responses is CPU work too), in order.
 */
export async function sendPaced(send: (r: ImapResponse) => void, responses: Iterable<ImapResponse>): Promise<void> {
  const work = new CommandWork();
  for (const r of responses) {
    send(r);
    if (work.due()) await work.pause();
  }
}
