import type { AddressInfo } from 'node:net';
import { SMTPServer, type SMTPServerSession } from 'smtp-server';

/**
 * A remote MX for outbound tests: a real smtp-server on loopback that keeps
 * what it receives and answers RCPT and DATA as the test says. With `tls`
 * it offers STARTTLS (RFC 3207) with that certificate.
 */
export interface SinkReply {
  code: number;
  message: string;
}

export interface SinkOptions {
  tls?: { key: string; cert: string; ca?: string };
  /** A reply for RCPT TO:<address>, or undefined to accept. */
  rcpt?: (address: string) => SinkReply | undefined;
  /** A reply for the end of DATA, or undefined to accept. */
  data?: (message: Buffer) => SinkReply | undefined;
  /** Advertise SIZE with this limit. */
  size?: number;
  /** Announce PIPELINING or not (default: announce). */
  pipelining?: boolean;
}

export interface SinkMessage {
  mailFrom: string;
  rcptTo: string[];
  /** ESMTP parameters of MAIL FROM (upper-case keys), e.g. SIZE, RET, ENVID. */
  mailParams: Record<string, string>;
  data: Buffer;
  secure: boolean;
  servername?: string;
}

export interface Sink {
  port: number;
  messages: SinkMessage[];
  /** RCPT addresses the sink saw, accepted or not. */
  rcptSeen: string[];
  /** Connections made to the sink. */
  connections: number;
  /** Most connections open at the same time. */
  maxConcurrent: number;
  close(): Promise<void>;
}

export async function startSink(opts: SinkOptions = {}): Promise<Sink> {
  const messages: SinkMessage[] = [];
  const rcptSeen: string[] = [];
  let connections = 0;
  let open = 0;
  let maxConcurrent = 0;
  const err = (r: SinkReply) => Object.assign(new Error(r.message), { responseCode: r.code });
  const server = new SMTPServer({
    logger: false,
    secure: false,
    authOptional: true,
    disabledCommands: ['AUTH'],
    hideSTARTTLS: !opts.tls,
    hidePIPELINING: opts.pipelining === false,
    // smtp-server hides DSN unless asked; a sink offers it so RET/ENVID can be seen.
    hideDSN: false,
    size: opts.size,
    key: opts.tls?.key,
    cert: opts.tls?.cert,
    onConnect(_session, cb) {
      connections++;
      maxConcurrent = Math.max(maxConcurrent, ++open);
      cb();
    },
    onClose() {
      open--;
    },
    onRcptTo(address, _session, cb) {
      rcptSeen.push(address.address);
      const r = opts.rcpt?.(address.address);
      cb(r ? err(r) : undefined);
    },
    onData(stream, session: SMTPServerSession, cb) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        const data = Buffer.concat(chunks);
        const r = opts.data?.(data);
        if (r) return cb(err(r));
        const mailFrom = session.envelope.mailFrom;
        messages.push({
          mailFrom: mailFrom ? mailFrom.address : '',
          rcptTo: session.envelope.rcptTo.map((a) => a.address),
          mailParams: Object.fromEntries(Object.entries(mailFrom ? (mailFrom.args as Record<string, string>) || {} : {}).map(([k, v]) => [k.toUpperCase(), String(v)])),
          data,
          secure: session.secure,
          servername: session.servername || undefined,
        });
        cb();
      });
    },
  });
  server.on('error', () => undefined);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = ((server as unknown as { server: { address(): AddressInfo } }).server.address() as AddressInfo).port;
  return {
    port,
    messages,
    rcptSeen,
    get connections() {
      return connections;
    },
    get maxConcurrent() {
      return maxConcurrent;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
