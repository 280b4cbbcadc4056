/**
 * common/job-thread.ts, with real threads: answers reach the request they
 * belong to, a thread that dies hands every unanswered request to its owner
 * exactly once ('error' and 'exit' both come), and a failed system call
 * comes back as the call's own error.
 */
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { FAILURE_JS, JobThread, threadError, type ThreadFailure } from '../../mail-runtime/common/job-thread';

interface Reply {
  id: number;
  echo?: number;
  error?: ThreadFailure;
}

// Echoes `n` after `ms`, or reads `file` and reports how that failed.
const SOURCE = `
const { parentPort } = require('node:worker_threads');
const fs = require('node:fs');
${FAILURE_JS}
parentPort.on('message', (m) => {
  if (m.file) {
    try { fs.readFileSync(m.file); parentPort.postMessage({ id: m.id }); } catch (e) { parentPort.postMessage({ id: m.id, error: failure(e) }); }
    return;
  }
  setTimeout(() => parentPort.postMessage({ id: m.id, echo: m.n }), m.ms);
});
`;

function start(): { thread: JobThread<Reply, string>; replies: [string, Reply][]; deaths: { pending: string[]; err: Error }[] } {
  const replies: [string, Reply][] = [];
  const deaths: { pending: string[]; err: Error }[] = [];
  const thread = new JobThread<Reply, string>(SOURCE, 'test', {
    reply: (r, p) => replies.push([p, r]),
    died: (pending, err) => deaths.push({ pending, err }),
  });
  return { thread, replies, deaths };
}

async function until(cond: () => boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe('JobThread', () => {
  it('answers each request with what was sent alongside it, in any order', async () => {
    const { thread, replies, deaths } = start();
    thread.send({ n: 1, ms: 60 }, 'slow');
    thread.send({ n: 2, ms: 0 }, 'fast');
    expect(thread.size).toBe(2);
    await until(() => replies.length === 2);
    expect(replies.map(([p, r]) => [p, r.echo])).toEqual([
      ['fast', 2],
      ['slow', 1],
    ]);
    expect(thread.size).toBe(0);
    await thread.terminate();
    expect(deaths).toHaveLength(1);
    expect(deaths[0]!.pending).toEqual([]);
    expect(thread.dead).toBe(true);
  });

  it('a thread that dies hands its unanswered requests to the owner once', async () => {
    const { thread, replies, deaths } = start();
    thread.send({ n: 1, ms: 0 }, 'answered');
    await until(() => replies.length === 1);
    thread.send({ n: 2, ms: 60_000 }, 'a');
    thread.send({ n: 3, ms: 60_000 }, 'b');
    await thread.kill();
    await until(() => deaths.length > 0);
    await new Promise((r) => setTimeout(r, 50));
    expect(deaths).toHaveLength(1);
    expect(deaths[0]!.pending.sort()).toEqual(['a', 'b']);
    expect(deaths[0]!.err.message).toMatch(/^test thread exited/);
    expect(thread.dead).toBe(true);
  });

  it('terminate(reason) fails what is pending with that reason', async () => {
    const { thread, deaths } = start();
    thread.send({ n: 1, ms: 60_000 }, 'waiting');
    await thread.terminate(new Error('closed for the test'));
    expect(deaths).toEqual([{ pending: ['waiting'], err: new Error('closed for the test') }]);
  });

  it('a failed system call comes back with its code, errno, syscall and path', async () => {
    const { thread, replies } = start();
    const missing = path.join(os.tmpdir(), `job-thread-missing-${process.pid}`);
    thread.send({ file: missing }, 'read');
    await until(() => replies.length === 1);
    const err = threadError(replies[0]![1].error!) as NodeJS.ErrnoException;
    expect({ code: err.code, syscall: err.syscall, path: err.path, errno: typeof err.errno }).toEqual({ code: 'ENOENT', syscall: 'open', path: missing, errno: 'number' });
    expect(err.message).toContain('ENOENT');
    await thread.terminate();
  });
});
