import type { Readable } from 'node:stream';
import { openSocket, readToEnd, writeAll as write, type Endpoint } from '../endpoint';
import { FILTER_LIMITS } from '../limits';

/**
 * clamd's INSTREAM command (clamd(8), "INSTREAM"): `zINSTREAM\0` (the `z`
 * prefix asks for NUL-terminated replies), then the data in chunks, each
 * preceded by its length as a 4-byte unsigned big-endian integer, then a
 * zero-length chunk. clamd answers one line and closes: `stream: OK`,
 * `stream: <signature> FOUND`, or `<reason> ERROR` (among them `INSTREAM
 * size limit exceeded`, when more than its StreamMaxLength arrived).
 */
export type ClamdAnswer = { status: 'clean' } | { status: 'infected'; signature: string };

export class ClamdError extends Error {}

export function parseClamdReply(reply: Buffer): ClamdAnswer {
  const line = reply.toString('latin1').replace(/\0+$/, '').trim();
  if (line === 'stream: OK') return { status: 'clean' };
  const found = /^stream: (.+) FOUND$/.exec(line);
  if (found) return { status: 'infected', signature: found[1]! };
  if (line === '') throw new ClamdError('clamd closed the connection without an answer');
  throw new ClamdError(`clamd: ${line.slice(0, 200)}`);
}

/**
 * Streams `data` to clamd and returns its verdict. `maxBytes` is clamd's
 * StreamMaxLength: the caller does not send a larger message (clamd would
 * cut the connection), and this never sends more than that.
 */
export async function clamdInstream(endpoint: Endpoint, data: Readable, maxBytes: number, signal: AbortSignal): Promise<ClamdAnswer> {
  const socket = await openSocket(endpoint, signal);
  try {
    const reply = readToEnd(socket, FILTER_LIMITS.clamdReplyBytes, 'clamd');
    // Awaited below on every path but an early throw; this keeps that path from an unhandled rejection.
    reply.catch(() => undefined);
    try {
      await write(socket, Buffer.from('zINSTREAM\0', 'latin1'));
      let sent = 0;
      for await (const piece of data) {
        const buf = Buffer.isBuffer(piece) ? piece : Buffer.from(piece as string);
        for (let at = 0; at < buf.length; at += FILTER_LIMITS.clamdChunkBytes) {
          const chunk = buf.subarray(at, at + FILTER_LIMITS.clamdChunkBytes);
          sent += chunk.length;
          if (sent > maxBytes) throw new ClamdError(`message larger than clamd's stream limit (${maxBytes} bytes)`);
          const len = Buffer.alloc(4);
          len.writeUInt32BE(chunk.length);
          await write(socket, Buffer.concat([len, chunk]));
        }
      }
      await write(socket, Buffer.alloc(4));
    } catch (err) {
      // clamd may have answered and closed early (its size limit): that answer explains more than EPIPE.
      if (err instanceof ClamdError || signal.aborted) throw err;
      const early = await reply.catch(() => Buffer.alloc(0));
      if (early.length > 0) return parseClamdReply(early);
      throw err;
    }
    return parseClamdReply(await reply);
  } finally {
    socket.destroy();
  }
}
