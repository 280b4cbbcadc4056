import { createServer, type AddressInfo, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { loadMessage, percentile, smtpLoad, smtpRows } from '../../bench/smtp-load';
import { mergeRows } from '../../bench/report';
import { startSink, type Sink } from '../helpers/smtp-sink';

/** The SMTP load driver against a real smtp-server on loopback (count-bounded, no timed assertions). */
describe('smtpLoad', () => {
  let sink: Sink | undefined;
  afterEach(async () => {
    await sink?.close();
    sink = undefined;
  });

  it('sends exactly `count` messages of the asked size over `senders` connections, round-robin over the recipients', async () => {
    sink = await startSink();
    const to = ['a@bench.test', 'b@bench.test', 'c@bench.test'];
    const f = await smtpLoad({ host: '127.0.0.1', port: sink.port, messageSize: 10 * 1024, senders: 4, count: 30, timeLimit: 20_000, to });
    expect(f).toMatchObject({ accepted: 30, failed: 0, senders: 4, messageSize: 10_240 });
    expect(f.acceptMs.n).toBe(30);
    expect(f.visibleMs).toBeUndefined();
    expect(sink.messages).toHaveLength(30);
    // The sink keeps the data as received (dot-stuffing undone, final CRLF.CRLF removed).
    expect(new Set(sink.messages.map((m) => m.data.length))).toEqual(new Set([10_240]));
    for (const r of to) expect(sink.messages.filter((m) => m.rcptTo[0] === r)).toHaveLength(10);
    expect(new Set(sink.messages.map((m) => /Message-ID: <smtpload-[0-9a-f]+-(\d+)@/.exec(m.data.toString())?.[1])).size).toBe(30);
  });

  it('counts rejected transactions as failed, with the server reply', async () => {
    sink = await startSink({ rcpt: (a) => (a.startsWith('bad') ? { code: 550, message: 'no such user' } : undefined) });
    const f = await smtpLoad({ host: '127.0.0.1', port: sink.port, messageSize: 2000, senders: 2, count: 10, timeLimit: 20_000, to: ['good@bench.test', 'bad@bench.test'] });
    expect(f.accepted).toBe(5);
    expect(f.failed).toBe(5);
    expect(f.errors[0]).toMatch(/^550 .*no such user/);
  });

  it('insists on bounds and recipients', async () => {
    await expect(smtpLoad({ host: '127.0.0.1', port: 1, messageSize: 1, count: 0, timeLimit: 1, to: ['a@b'] })).rejects.toThrow(/bounded/);
    await expect(smtpLoad({ host: '127.0.0.1', port: 1, messageSize: 1, count: 1, timeLimit: 1, to: [] })).rejects.toThrow(/recipient/);
  });
});

describe('smtp load helpers', () => {
  it('builds a message of exactly the asked size with no line starting with a dot', () => {
    const m = loadMessage('r1', 7, 100 * 1024, 'f@x.example', 't@bench.test');
    expect(Buffer.byteLength(m)).toBe(102_400);
    expect(m.endsWith('\r\n')).toBe(true);
    expect(m.split('\r\n').some((l) => l.startsWith('.'))).toBe(false);
    expect(m).toContain('Message-ID: <smtpload-r1-7@bench.test>');
  });

  it('nearest-rank percentiles', () => {
    const xs = Array.from({ length: 100 }, (_, i) => 100 - i);
    expect([percentile(xs, 0.5), percentile(xs, 0.99), percentile([7], 0.99)]).toEqual([50, 99, 7]);
    expect(percentile([], 0.5)).toBeNaN();
  });

  it('mailfleet and anchor SMTP rows line up and merge into one row per figure', () => {
    const fig = (perSecond: number) => ({ messageSize: 10_240, senders: 16, accepted: 1, failed: 0, errors: [], ms: 1, perSecond, acceptMs: { p50: 1, p99: 2, n: 1 }, visibleMs: { p50: 3, p99: 4, n: 1 } });
    const rows = mergeRows([...smtpRows('smtp', 10_240, 16, { anchor: fig(200) }), ...smtpRows('smtp', 10_240, 16, { mailfleet: fig(300) })]);
    expect(rows).toHaveLength(5);
    expect(rows[0]).toMatchObject({ metric: 'messages accepted, 10 KB, 16 senders', mailfleet: 300, anchor: 200, ratio: 1.5 });
  });
});

describe('smtpLoad when a sender cannot connect', () => {
  it('fails with the connection error when nothing listens', async () => {
    const srv = createServer();
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
    const port = (srv.address() as AddressInfo).port;
    await new Promise<void>((r) => srv.close(() => r()));
    await expect(smtpLoad({ host: '127.0.0.1', port, messageSize: 100, senders: 2, count: 1, timeLimit: 1000, to: ['a@b'] })).rejects.toThrow(/ECONNREFUSED/);
  });

  it('closes the senders that did connect when another is refused (nothing left open)', async () => {
    // A raw server: the first connection is a healthy SMTP session, every later one is refused with 421 (RFC 5321 §3.8).
    const open = new Set<Socket>();
    let n = 0;
    let allClosed: () => void = () => undefined;
    const srv = createServer((s) => {
      s.on('error', () => undefined);
      if (n++ > 0) {
        s.end('421 4.3.2 too busy\r\n');
        return;
      }
      open.add(s);
      s.on('close', () => {
        open.delete(s);
        if (open.size === 0) allClosed();
      });
      s.write('220 test ESMTP\r\n');
      s.on('data', () => s.write('250 test\r\n'));
    });
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
    try {
      const port = (srv.address() as AddressInfo).port;
      const closed = new Promise<void>((r) => (allClosed = r));
      await expect(smtpLoad({ host: '127.0.0.1', port, messageSize: 100, senders: 3, count: 3, timeLimit: 1000, to: ['a@b'] })).rejects.toThrow(/421/);
      // The healthy session's socket must be closed by the client; without that it would stay open until the test's own timeout.
      await closed;
      expect(open.size).toBe(0);
    } finally {
      for (const s of open) s.destroy();
      await new Promise<void>((r) => srv.close(() => r()));
    }
  });
});
