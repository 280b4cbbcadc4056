import { createServer, type Server, type Socket } from 'node:net';
import { TLSSocket } from 'node:tls';
import type { AddressInfo } from 'node:net';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { SmtpSession, encodeData } from '../../../mail-runtime/smtp/outbound/client';
import { ReplyFormatError, ReplyParser } from '../../../mail-runtime/smtp/outbound/reply';
import { SmtpOutbound } from '../../../mail-runtime/smtp/outbound';
import { makeLeaf } from '../../helpers/pki';
import { entry, gatewaySettings, message } from './settings';

describe('reply parsing (RFC 5321 §4.2)', () => {
  it('joins multi-line replies and reads the enhanced code (RFC 3463)', () => {
    const p = new ReplyParser();
    expect(p.push('250-mx.example hello\r\n250-PIPELINING\r\n')).toEqual([]);
    expect(p.push('250 STARTTLS\r\n550 5.1.1 no such user\r\n')).toEqual([
      { code: 250, enhanced: undefined, lines: ['mx.example hello', 'PIPELINING', 'STARTTLS'] },
      { code: 550, enhanced: '5.1.1', lines: ['no such user'] },
    ]);
  });

  it.each([
    ['hello\r\n', /not an SMTP reply/],
    ['250-a\r\n251 b\r\n', /code changed/],
    [`250 ${'x'.repeat(5000)}`, /longer than/],
    [Array.from({ length: 101 }, () => '250-x\r\n').join(''), /lines/],
  ])('refuses garbage %#', (input, why) => {
    expect(() => new ReplyParser().push(input)).toThrow(why);
  });

  it('any input either parses or fails with ReplyFormatError, split anywhere (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(fc.constantFrom('250-a\r\n', '250 b\r\n', '354 go\r\n', '\r\n', '5', '-', ' ', '\n'), fc.string({ maxLength: 20 })), { maxLength: 30 }), (parts) => {
        const p = new ReplyParser();
        try {
          for (const part of parts) p.push(part);
        } catch (err) {
          expect(err).toBeInstanceOf(ReplyFormatError);
        }
      }),
    );
  });
});

describe('DATA transparency (RFC 5321 §4.5.2)', () => {
  it('dot-stuffs, ends lines in CRLF and terminates; undoing it gives the message back (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.stringMatching(/^[.a-z ]{0,8}$/), { maxLength: 10 }), fc.constantFrom('\r\n', '\n'), (lines, eol) => {
        const msg = Buffer.from(lines.join(eol) + (lines.length ? eol : ''));
        const wire = encodeData(msg).toString('latin1');
        expect(wire === '.\r\n' || wire.endsWith('\r\n.\r\n')).toBe(true);
        const body = wire.slice(0, -3);
        // No line of the body is a lone dot, and no bare LF is left.
        expect(body.split('\r\n')).not.toContain('.');
        expect(/(^|[^\r])\n/.test(body)).toBe(false);
        const undone = body.replace(/(^|\r\n)\./g, '$1');
        expect(undone).toBe(lines.map((l) => `${l}\r\n`).join(''));
      }),
    );
  });
});

/** Fake peers for fault cases only: behaviours no real MTA shows on purpose. */
const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise<void>((r) => s.close(() => r()))));
});
async function fakePeer(onConnect: (sock: Socket) => void): Promise<number> {
  const srv = createServer(onConnect);
  servers.push(srv);
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  return (srv.address() as AddressInfo).port;
}
function lines(sock: Socket, onLine: (l: string) => void): void {
  let buf = '';
  sock.on('data', (d: Buffer) => {
    buf += d.toString('latin1');
    let i: number;
    while ((i = buf.indexOf('\r\n')) >= 0) {
      const l = buf.slice(0, i);
      buf = buf.slice(i + 2);
      onLine(l);
    }
  });
  sock.on('error', () => undefined);
}

describe('STARTTLS faults', () => {
  it('drops what the server sent in plaintext after the 220 to STARTTLS (RFC 3207 §6, response injection)', async () => {
    const tls = await makeLeaf(['mx.example.net']);
    const ehlos: string[] = [];
    const port = await fakePeer((sock) => {
      sock.write('220 fake ESMTP\r\n');
      let secure: TLSSocket | undefined;
      lines(sock, (l) => {
        if (/^EHLO/.test(l)) sock.write('250-fake\r\n250 STARTTLS\r\n');
        else if (l === 'STARTTLS') {
          // The injected line would pass for the answer to the next EHLO if it were kept.
          sock.write('220 go ahead\r\n250-injected\r\n250 AUTH PLAIN\r\n');
          sock.removeAllListeners('data');
          secure = new TLSSocket(sock, { isServer: true, key: tls.key, cert: tls.cert });
          secure.on('error', () => undefined);
          lines(secure, (sl) => {
            if (/^EHLO/.test(sl)) {
              ehlos.push(sl);
              secure!.write('250-fake secured\r\n250 SIZE 1000\r\n');
            } else if (sl === 'QUIT') secure!.end('221 bye\r\n');
          });
        }
      });
    });
    const s = await SmtpSession.open({ address: '127.0.0.1', port, localName: 'gw.mailfleet.test', tls: { mode: 'opportunistic', servername: 'mx.example.net' } });
    expect(s.tls).toBeDefined();
    expect(ehlos).toHaveLength(1);
    expect([...s.extensions.keys()]).toEqual(['SIZE']);
    await s.quit();
  });

  it('after a failed opportunistic handshake, delivers in plaintext on a new connection (RFC 7435)', async () => {
    let conns = 0;
    let delivered = '';
    const port = await fakePeer((sock) => {
      const n = ++conns;
      sock.write('220 fake ESMTP\r\n');
      let inData = false;
      lines(sock, (l) => {
        if (inData) {
          if (l === '.') {
            inData = false;
            sock.write('250 2.0.0 queued\r\n');
          } else delivered += `${l}\n`;
          return;
        }
        if (/^EHLO/.test(l)) sock.write(n === 1 ? '250-fake\r\n250 STARTTLS\r\n' : '250 fake\r\n');
        else if (l === 'STARTTLS') {
          sock.write('220 go ahead\r\n');
          // Answer the ClientHello with something that is not TLS.
          sock.removeAllListeners('data');
          sock.once('data', () => sock.end('this is not a TLS handshake\r\n'));
        }
        else if (/^(MAIL|RCPT)/.test(l)) sock.write('250 ok\r\n');
        else if (l === 'DATA') {
          inData = true;
          sock.write('354 go\r\n');
        } else if (l === 'QUIT') sock.end('221 bye\r\n');
      });
    });
    const t = await SmtpOutbound.create(gatewaySettings({ routes: { 'example.net': `127.0.0.1:${port}` } }));
    const res = await t.deliver(entry(), ['bob@example.net'], message('fallback'));
    expect(res[0]).toEqual({ status: 'delivered', reply: '250 2.0.0 queued' });
    expect(conns).toBe(2);
    expect(delivered).toContain('Subject: fallback');
  });
});
