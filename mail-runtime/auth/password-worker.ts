import { parentPort } from 'node:worker_threads';
import { z } from 'zod';
import { parseForeignHash, verifyForeign } from './password-schemes';

/**
 * Entry of a password-hash worker thread (./password-threads.ts starts it):
 * one foreign-scheme check at a time, off the event loop that serves the
 * sessions. Requests are checked at this boundary like any other input.
 */
const Request = z.strictObject({ id: z.number().int(), password: z.string(), stored: z.string() });

export type HashReply = { id: number; ok: boolean } | { id: number; error: string };

const port = parentPort;
if (port) {
  port.on('message', (raw: unknown) => {
    const req = Request.safeParse(raw);
    if (!req.success) return; // not from our pool: nothing to answer to
    const { id, password, stored } = req.data;
    const parsed = parseForeignHash(stored);
    if (!parsed?.ok) {
      port.postMessage({ id, ok: false } satisfies HashReply);
      return;
    }
    verifyForeign(password, parsed.value).then(
      (ok) => port.postMessage({ id, ok } satisfies HashReply),
      (e: unknown) => port.postMessage({ id, error: e instanceof Error ? e.message : String(e) } satisfies HashReply),
    );
  });
}
