import { createHash } from 'node:crypto';
import { mkdir, open } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { SMTPServer, type SMTPServerDataStream } from 'smtp-server';
import { takeDeliveryId } from '../../mail-runtime/smtp/common';

/**
 * A minimal LMTP server (RFC 2033) standing in for a node until the node's
 * own LMTP listener (smtp-node) is merged: it records what it is given and
 * answers once per recipient after DATA. Tests decide each recipient's
 * reply; `durableDir` makes it write and fsync every message before its 250,
 * as a node does, so the benchmark measures a durable hop.
 */
export interface SinkDelivery {
  mailFrom: string;
  rcpt: string;
  messageId: string | undefined;
  /** Without the gateway's X-Mailfleet-Delivery-Id field, which a node takes out too. */
  message: Buffer;
  /** Values of the X-Mailfleet-Delivery-Id fields the gateway put on top (one: the queue id). */
  deliveryIds: string[];
  /** When the sink answered it (ms since the epoch, sub-millisecond: performance.timeOrigin + now()). */
  at: number;
}

export interface LmtpSinkOptions {
  /** Reply per recipient: a 250 text, or `{ code, text }` for a refusal. Default: 250 for everybody. */
  reply?: (rcpt: string, message: Buffer) => string | { code: number; text: string };
  /** Write and fsync each message into this folder before answering. */
  durableDir?: string;
  /** Re-listen on a port used before (the node comes back). */
  port?: number;
}

export interface LmtpSink {
  port: number;
  deliveries: SinkDelivery[];
  /** Deliveries per Message-ID. */
  counts(): Map<string, number>;
  /** Resolves once `n` deliveries have arrived (bounded by `timeoutMs`). */
  waitFor(n: number, timeoutMs?: number): Promise<void>;
  /** Stops listening and drops every connection (a node that goes down). */
  stop(): Promise<void>;
}

function messageIdOf(message: Buffer): string | undefined {
  const end = message.indexOf('\r\n\r\n');
  const head = message.subarray(0, end < 0 ? message.length : end).toString('latin1');
  return /^message-id:\s*(.+)$/im.exec(head.replace(/\r\n[ \t]+/g, ' '))?.[1]?.trim();
}

export async function startLmtpSink(opts: LmtpSinkOptions = {}): Promise<LmtpSink> {
  const deliveries: SinkDelivery[] = [];
  const waiters: { n: number; resolve: () => void }[] = [];
  let fileNo = 0;
  if (opts.durableDir) await mkdir(opts.durableDir, { recursive: true });
  const wake = (): void => {
    for (const w of [...waiters]) {
      if (deliveries.length >= w.n) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve();
      }
    }
  };
  const server = new SMTPServer({
    lmtp: true,
    name: 'lmtp-sink.test',
    disabledCommands: ['AUTH', 'STARTTLS'],
    authOptional: true,
    hideENHANCEDSTATUSCODES: false,
    disableReverseLookup: true,
    logger: false,
    onData(stream: SMTPServerDataStream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('error', () => undefined);
      stream.on('end', () => {
        // As the node does (mail-runtime/smtp/lmtp/data.ts): the delivery id is taken out of the message.
        const { message, values: deliveryIds } = takeDeliveryId(Buffer.concat(chunks));
        const mailFrom = session.envelope.mailFrom ? session.envelope.mailFrom.address : '';
        const answers = session.envelope.rcptTo.map((r) => opts.reply?.(r.address, message) ?? 'Ok delivered');
        const persist = async (): Promise<void> => {
          if (!opts.durableDir) return;
          const name = join(opts.durableDir, `${process.pid}-${fileNo++}-${createHash('sha1').update(message).digest('hex').slice(0, 8)}`);
          const fh = await open(name, 'wx');
          try {
            await fh.writeFile(message);
            await fh.sync();
          } finally {
            await fh.close();
          }
        };
        persist().then(
          () => {
            const out = answers.map((a, i) => {
              if (typeof a === 'string') {
                deliveries.push({ mailFrom, rcpt: session.envelope.rcptTo[i]!.address, messageId: messageIdOf(message), message, deliveryIds, at: performance.timeOrigin + performance.now() });
                return a;
              }
              return Object.assign(new Error(a.text), { responseCode: a.code });
            });
            wake();
            callback(null, out);
          },
          (err: Error) => callback(Object.assign(err, { responseCode: 451 })),
        );
      });
    },
  });
  server.on('error', () => undefined);
  const port = await new Promise<number>((resolve, reject) => {
    server.server.once('error', reject);
    server.listen(opts.port ?? 0, '127.0.0.1', () => {
      const addr = server.server.address();
      resolve(typeof addr === 'object' && addr ? addr.port : 0);
    });
  });
  return {
    port,
    deliveries,
    counts: () => {
      const m = new Map<string, number>();
      for (const d of deliveries) if (d.messageId) m.set(d.messageId, (m.get(d.messageId) ?? 0) + 1);
      return m;
    },
    waitFor: (n, timeoutMs = 30_000) =>
      new Promise<void>((resolve, reject) => {
        if (deliveries.length >= n) return resolve();
        const w = { n, resolve: () => (clearTimeout(t), resolve()) };
        const t = setTimeout(() => {
          waiters.splice(waiters.indexOf(w), 1);
          reject(new Error(`sink: ${deliveries.length} of ${n} deliveries after ${timeoutMs} ms`));
        }, timeoutMs);
        waiters.push(w);
      }),
    stop: () =>
      new Promise<void>((resolve) => {
        for (const c of server.connections) c.close();
        server.server.close(() => resolve());
        for (const c of server.connections) (c as unknown as { _socket: { destroy(): void } })._socket.destroy();
      }),
  };
}
