import { rm } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';

/**
 * A scripted milter peer for the cases a real milter does not show on
 * demand: timeouts, garbage, resets, and replies a real one rarely sends.
 * It frames packets itself (4-byte big-endian length counting the command
 * byte, the command, the data) rather than through the client's codec, so
 * a framing bug in the client is not mirrored here.
 */
export interface Received {
  cmd: string;
  data: Buffer;
}

/** What to do after a command: send these packets, stay silent, cut the connection, or send raw bytes. */
export type Action = Buffer[] | { hang: true } | { reset: true } | { raw: Buffer };
export type Script = (cmd: string, data: Buffer, seen: readonly Received[]) => Action | undefined;

export interface FakeMilter {
  address: string;
  /** What each connection received, in order. */
  readonly connections: Received[][];
  /** Resolves when a connection to the fake has closed (the client let it go). */
  closed(): Promise<void>;
  close(): Promise<void>;
}

export function packet(cmd: string, data: Buffer | string = Buffer.alloc(0)): Buffer {
  const body = Buffer.isBuffer(data) ? data : Buffer.from(data, 'latin1');
  const head = Buffer.alloc(5);
  head.writeUInt32BE(body.length + 1, 0);
  head.write(cmd, 4, 'latin1');
  return Buffer.concat([head, body]);
}

export function optnegReply(version: number, actions: number, protocol: number): Buffer {
  const d = Buffer.alloc(12);
  d.writeUInt32BE(version, 0);
  d.writeUInt32BE(actions, 4);
  d.writeUInt32BE(protocol, 8);
  return packet('O', d);
}

/** An index (uint32) followed by NUL-terminated strings, as INSHEADER / CHGHEADER carry them. */
export function indexed(index: number, ...strings: string[]): Buffer {
  const i = Buffer.alloc(4);
  i.writeUInt32BE(index);
  return Buffer.concat([i, Buffer.from(strings.map((s) => `${s}\0`).join(''), 'latin1')]);
}

export const nul = (...strings: string[]) => Buffer.from(strings.map((s) => `${s}\0`).join(''), 'latin1');

/** A milter that takes everything it is offered (headers, quarantine), replies CONTINUE, and ACCEPT at end of body. */
export const politeMilter =
  (actions = 0x31, protocol = 0, more: Script = () => undefined): Script =>
  (cmd, data, seen) => {
    const custom = more(cmd, data, seen);
    if (custom) return custom;
    if (cmd === 'O') return [optnegReply(6, actions, protocol)];
    if (cmd === 'D' || cmd === 'Q' || cmd === 'A') return [];
    if (cmd === 'E') return [packet('a')];
    return [packet('c')];
  };

export async function startFakeMilter(script: Script, opts: { unixPath?: string } = {}): Promise<FakeMilter> {
  const connections: Received[][] = [];
  const sockets = new Set<Socket>();
  let closeWaiters: (() => void)[] = [];
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    const seen: Received[] = [];
    connections.push(seen);
    let buf = Buffer.alloc(0);
    socket.on('error', () => undefined);
    socket.on('close', () => {
      sockets.delete(socket);
      const w = closeWaiters;
      closeWaiters = [];
      for (const f of w) f();
    });
    socket.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      while (buf.length >= 5 && buf.length >= 4 + buf.readUInt32BE(0)) {
        const len = buf.readUInt32BE(0);
        const rec = { cmd: String.fromCharCode(buf[4]!), data: Buffer.from(buf.subarray(5, 4 + len)) };
        buf = buf.subarray(4 + len);
        seen.push(rec);
        const action = script(rec.cmd, rec.data, seen);
        if (!action) continue;
        if ('hang' in action) continue;
        if ('reset' in action) {
          socket.resetAndDestroy();
          return;
        }
        if ('raw' in action) socket.write(action.raw);
        else for (const p of action) socket.write(p);
      }
    });
  });
  if (opts.unixPath) {
    await rm(opts.unixPath, { force: true });
    await new Promise<void>((resolve) => server.listen(opts.unixPath, resolve));
  } else await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = opts.unixPath ? `unix:${opts.unixPath}` : `127.0.0.1:${(server.address() as { port: number }).port}`;
  return {
    address,
    connections,
    closed: () => (sockets.size === 0 ? Promise.resolve() : new Promise<void>((resolve) => closeWaiters.push(resolve))),
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
