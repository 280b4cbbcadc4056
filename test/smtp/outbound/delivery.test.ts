import { afterEach, describe, expect, it } from 'vitest';
import { simpleParser } from 'mailparser';
import { SmtpOutbound, buildDsn } from '../../../mail-runtime/smtp/outbound';
import { makeLeaf } from '../../helpers/pki';
import { startSink, type Sink } from '../../helpers/smtp-sink';
import { entry, gatewaySettings, message } from './settings';

/** Outbound delivery to real smtp-server sinks on loopback, reached through `outbound.routes`. */
const sinks: Sink[] = [];
async function sink(opts: Parameters<typeof startSink>[0] = {}): Promise<Sink> {
  const s = await startSink(opts);
  sinks.push(s);
  return s;
}
afterEach(async () => {
  await Promise.all(sinks.splice(0).map((s) => s.close()));
});

async function transport(routes: Record<string, string>, outbound: Parameters<typeof gatewaySettings>[0] = {}) {
  return SmtpOutbound.create(gatewaySettings({ routes, ...outbound }));
}

describe('delivery to a sink MX', () => {
  it('delivers every recipient of a domain over one connection, one result each in order', async () => {
    const s = await sink();
    const t = await transport({ 'example.net': `127.0.0.1:${s.port}` });
    const msg = message();
    const res = await t.deliver(entry(), ['bob@example.net', 'carol@example.net'], msg);
    expect(res.map((r) => r.status)).toEqual(['delivered', 'delivered']);
    expect(res[0]!.reply).toMatch(/^250 /);
    expect(s.connections).toBe(1);
    expect(s.messages).toHaveLength(1);
    expect(s.messages[0]!.rcptTo).toEqual(['bob@example.net', 'carol@example.net']);
    expect(s.messages[0]!.mailFrom).toBe('alice@mailfleet.test');
    // Dot-stuffing is undone by the server: the body arrives as sent.
    expect(s.messages[0]!.data.toString()).toContain('\r\n.a line starting with a dot\r\n');
    expect(s.messages[0]!.data.toString()).toContain('Subject: hello');
  });

  it('uses STARTTLS when the MX offers it, and plaintext when it does not', async () => {
    const tls = await makeLeaf(['mx.example.net']);
    const withTls = await sink({ tls });
    const without = await sink();
    const t = await transport({ 'example.net': `127.0.0.1:${withTls.port}`, 'example.org': `127.0.0.1:${without.port}` });
    const res = await t.deliver(entry(), ['bob@example.net', 'dave@example.org'], message());
    expect(res.map((r) => r.status)).toEqual(['delivered', 'delivered']);
    expect(withTls.messages[0]!.secure).toBe(true);
    expect(without.messages[0]!.secure).toBe(false);
  });

  it('a permanent 550 fails that recipient only, and its DSN carries every required field', async () => {
    const s = await sink({ rcpt: (a) => (a.startsWith('nobody@') ? { code: 550, message: '5.1.1 <nobody@example.net>: user unknown' } : undefined) });
    const t = await transport({ 'example.net': `127.0.0.1:${s.port}` });
    const e = entry({ dsn: { ret: 'HDRS', envid: 'env-42' } });
    const msg = message('quarterly report');
    const res = await t.deliver(e, ['bob@example.net', 'nobody@example.net'], msg);
    expect(res[0]!.status).toBe('delivered');
    expect(res[1]).toEqual({ status: 'failed', reply: '550 5.1.1 <nobody@example.net>: user unknown' });
    expect(s.messages[0]!.rcptTo).toEqual(['bob@example.net']);

    const dsn = buildDsn(e, [{ address: 'nobody@example.net', lastReply: res[1]!.reply, remoteMta: 'mx.example.net' }], msg, {
      reportingMta: 'gw.mailfleet.test',
      arrivalDate: new Date(e.receivedAt),
    });
    expect(dsn).not.toBeNull();
    expect(dsn!.mailFrom).toBe('');
    expect(dsn!.to).toBe('alice@mailfleet.test');
    const parsed = await simpleParser(dsn!.message);
    expect(parsed.headers.get('content-type')).toMatchObject({ value: 'multipart/report', params: { 'report-type': 'delivery-status' } });
    expect(parsed.headers.get('auto-submitted')).toBe('auto-replied');
    // mailparser reads message/delivery-status as inline text (it is text/plain-like, RFC 3464 §2.1): its fields are in .text.
    expect(dsn!.message.toString()).toMatch(/^Content-Type: message\/delivery-status\r$/m);
    const fields = parsed.text ?? '';
    expect(fields).toMatch(/^Reporting-MTA: dns; gw\.mailfleet\.test$/m);
    expect(fields).toMatch(/^Original-Envelope-Id: env-42$/m);
    expect(fields).toMatch(/^Arrival-Date: .+$/m);
    expect(fields).toMatch(/^Final-Recipient: rfc822; nobody@example\.net$/m);
    expect(fields).toMatch(/^Action: failed$/m);
    expect(fields).toMatch(/^Status: 5\.1\.1$/m);
    expect(fields).toMatch(/^Remote-MTA: dns; mx\.example\.net$/m);
    expect(fields).toMatch(/^Diagnostic-Code: smtp; 550 5\.1\.1 <nobody@example\.net>: user unknown$/m);
    // RET=HDRS: the headers come back, not the body (RFC 3461 §4.3).
    const returned = parsed.attachments.find((a) => a.contentType === 'text/rfc822-headers');
    expect(returned?.content.toString()).toContain('Subject: quarterly report');
    expect(returned?.content.toString()).not.toContain('Hello Bob');
  });

  it('temporary failures are deferred: a 451 at RCPT, a 452 at DATA, a refused connection', async () => {
    const busy = await sink({ rcpt: () => ({ code: 451, message: '4.3.0 try later' }) });
    const full = await sink({ data: () => ({ code: 452, message: '4.3.1 insufficient storage' }) });
    const refused = await sink();
    await refused.close();
    sinks.splice(sinks.indexOf(refused), 1);
    const t = await transport({ 'a.example': `127.0.0.1:${busy.port}`, 'b.example': `127.0.0.1:${full.port}`, 'c.example': `127.0.0.1:${refused.port}` });
    const res = await t.deliver(entry(), ['x@a.example', 'y@b.example', 'z@c.example'], message());
    expect(res[0]).toEqual({ status: 'deferred', reply: '451 4.3.0 try later' });
    expect(res[1]).toEqual({ status: 'deferred', reply: '452 4.3.1 insufficient storage' });
    expect(res[2]!.status).toBe('deferred');
    expect(res[2]!.reply).toMatch(/^451 4\.4\.\d .*ECONNREFUSED/);
  });

  it('a 5xx at the end of DATA fails every accepted recipient', async () => {
    const s = await sink({ data: () => ({ code: 554, message: '5.7.1 message refused' }) });
    const t = await transport({ 'example.net': `127.0.0.1:${s.port}` });
    const res = await t.deliver(entry(), ['bob@example.net', 'carol@example.net'], message());
    expect(res).toEqual([
      { status: 'failed', reply: '554 5.7.1 message refused' },
      { status: 'failed', reply: '554 5.7.1 message refused' },
    ]);
  });

  it('more recipients than maxRecipientsPerTransaction go in further transactions on the same connection', async () => {
    const s = await sink({ pipelining: false });
    const t = await transport({ 'example.net': `127.0.0.1:${s.port}` }, { maxRecipientsPerTransaction: 2 });
    const rcpts = ['r1', 'r2', 'r3', 'r4', 'r5'].map((l) => `${l}@example.net`);
    const res = await t.deliver(entry(), rcpts, message());
    expect(res.every((r) => r.status === 'delivered')).toBe(true);
    expect(s.connections).toBe(1);
    expect(s.messages.map((m) => m.rcptTo)).toEqual([['r1@example.net', 'r2@example.net'], ['r3@example.net', 'r4@example.net'], ['r5@example.net']]);
  });

  it('holds connections to one destination at maxConnectionsPerDestination', async () => {
    const s = await sink();
    const t = await transport({ 'example.net': `127.0.0.1:${s.port}` }, { maxConnectionsPerDestination: 1 });
    const runs = Array.from({ length: 6 }, (_, i) => t.deliver(entry(), [`u${i}@example.net`], message(`m${i}`)));
    const res = await Promise.all(runs);
    expect(res.flat().every((r) => r.status === 'delivered')).toBe(true);
    expect(s.messages).toHaveLength(6);
    expect(s.maxConcurrent).toBe(1);
  });

  it('holds all outbound connections at maxConnections, whatever the destination', async () => {
    const s = await sink();
    const routes = Object.fromEntries(['a', 'b', 'c', 'd'].map((d) => [`${d}.example`, `127.0.0.1:${s.port}`]));
    const t = await transport(routes, { maxConnections: 1 });
    const res = await t.deliver(entry(), ['x@a.example', 'x@b.example', 'x@c.example', 'x@d.example'], message());
    expect(res.every((r) => r.status === 'delivered')).toBe(true);
    expect(s.connections).toBe(4);
    expect(s.maxConcurrent).toBe(1);
  });

  it('passes RET and ENVID to a server that offers DSN (RFC 3461), and SIZE (RFC 1870)', async () => {
    const s = await sink({ size: 1_000_000 });
    const t = await transport({ 'example.net': `127.0.0.1:${s.port}` });
    const msg = message();
    await t.deliver(entry({ dsn: { ret: 'FULL', envid: 'a+b=c' } }), ['bob@example.net'], msg);
    const params = s.messages[0]!.mailParams;
    expect(params.RET).toBe('FULL');
    // xtext on the wire (RFC 3461 §4: "+" and "=" are escaped), decoded by the server.
    expect(params.ENVID).toBe('a+b=c');
    expect(params.SIZE).toBe(String(msg.length));
  });

  it('refuses a message larger than the SIZE the server announces, without sending it', async () => {
    const s = await sink({ size: 100 });
    const t = await transport({ 'example.net': `127.0.0.1:${s.port}` });
    const res = await t.deliver(entry(), ['bob@example.net'], message());
    expect(res[0]!.status).toBe('failed');
    expect(res[0]!.reply).toMatch(/^552 5\.3\.4 /);
    expect(s.rcptSeen).toEqual([]);
  });

  it('a recipient without a domain fails at once; an aborted delivery is deferred', async () => {
    const s = await sink();
    const t = await transport({ 'example.net': `127.0.0.1:${s.port}` });
    const ac = new AbortController();
    ac.abort();
    const res = await t.deliver(entry(), ['bob@example.net', 'no-domain'], message(), ac.signal);
    expect(res[0]!.status).toBe('deferred');
    expect(res[1]!.status).toBe('failed');
    expect(res[1]!.reply).toMatch(/^553 5\.1\.3/);
    expect(s.connections).toBe(0);
  });
});
