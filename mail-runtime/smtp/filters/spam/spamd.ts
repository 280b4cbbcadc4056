import { z } from 'zod';
import { openSocket, readToEnd, writeAll, type Endpoint } from '../endpoint';
import { FILTER_LIMITS } from '../limits';

/**
 * SpamAssassin's spamd protocol (SPAMC/1.5, spamd(1p) "PROTOCOL"): the
 * client sends `SYMBOLS SPAMC/1.5`, a `Content-length` header, an empty line
 * and the message, then half-closes; spamd answers `SPAMD/1.1 0 EX_OK`, a
 * `Spam: True|False ; <score> / <threshold>` header, an empty line and the
 * names of the rules that hit, comma-separated, and closes.
 */
export interface SpamdAnswer {
  score: number;
  /** spamd's own threshold (its required_score); ours decide. */
  threshold: number;
  symbols: string[];
}

export class SpamdError extends Error {}

const Answer = z.object({
  score: z.number().finite(),
  threshold: z.number().finite(),
  symbols: z.array(z.string().regex(/^[A-Za-z0-9_.-]+$/)),
});

export function parseSpamdReply(reply: Buffer): SpamdAnswer {
  const text = reply.toString('latin1');
  const split = text.indexOf('\r\n\r\n');
  const head = (split >= 0 ? text.slice(0, split) : text).split('\r\n');
  const body = split >= 0 ? text.slice(split + 4) : '';
  // RFC-style status line: SPAMD/<version> <code> <message>; 0 is EX_OK (sysexits.h).
  const status = /^SPAMD\/\d+\.\d+ (\d+) (.*)$/.exec(head[0] ?? '');
  if (!status) throw new SpamdError(`not a spamd reply: ${JSON.stringify((head[0] ?? '').slice(0, 80))}`);
  if (status[1] !== '0') throw new SpamdError(`spamd refused the request: ${status[1]} ${status[2]!.slice(0, 120)}`);
  const spam = head.map((l) => /^Spam: *(True|False|Yes|No) *; *(-?[0-9.]+) *\/ *(-?[0-9.]+)$/i.exec(l)).find(Boolean);
  if (!spam) throw new SpamdError('spamd reply without a Spam: header');
  const parsed = Answer.safeParse({
    score: Number(spam[2]),
    threshold: Number(spam[3]),
    symbols: body.trim() === '' ? [] : body.trim().split(',').map((s) => s.trim()),
  });
  if (!parsed.success) throw new SpamdError(`spamd reply not understood: ${parsed.error.issues[0]?.message ?? ''}`);
  return parsed.data;
}

/** Asks spamd for the score and rule names of `message` (the whole message, `prefix` lines first). */
export async function spamdSymbols(endpoint: Endpoint, prefix: Buffer, message: Buffer, signal: AbortSignal): Promise<SpamdAnswer> {
  const socket = await openSocket(endpoint, signal);
  try {
    const reply = readToEnd(socket, FILTER_LIMITS.spamReplyBytes, 'spamd');
    reply.catch(() => undefined);
    await writeAll(socket, Buffer.from(`SYMBOLS SPAMC/1.5\r\nContent-length: ${prefix.length + message.length}\r\n\r\n`, 'latin1'));
    await writeAll(socket, prefix);
    await writeAll(socket, message);
    socket.end();
    return parseSpamdReply(await reply);
  } finally {
    socket.destroy();
  }
}
