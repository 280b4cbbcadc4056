import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Filter, FilterContext } from '../../../mail-runtime/smtp/filters/types';
import { startTestGateway, type TestGateway } from '../../helpers/gateway';
import { startHaproxy } from '../../helpers/haproxy';
import { LineClient } from '../../helpers/line-client';
import { startLmtpSink, type LmtpSink } from '../../helpers/lmtp-sink';
import { command, data, message, openSession, readReply } from '../../helpers/smtp-raw';

/**
 * The MX's bounds and its failure answers, each on a gateway configured for
 * it (the RuntimeConfig field is set and its effect seen), plus the filter
 * chain at each phase (through the stand-in runner, inbound/run-phase.ts).
 */
let sink: LmtpSink;
const gateways: TestGateway[] = [];
beforeAll(async () => {
  sink = await startLmtpSink();
});
afterAll(async () => {
  for (const g of gateways) await g.dispose();
  await sink?.stop();
});
async function gateway(opts: Parameters<typeof startTestGateway>[0] = {}): Promise<TestGateway> {
  const g = await startTestGateway({ lmtpPort: sink.port, ...opts });
  gateways.push(g);
  return g;
}

describe('connections at accept time: the member\'s shared bounds (net/connectionLimitFromConfig, config limits)', () => {
  it('per address (limits.maxConnectionsPerAddress): one more gets 421 4.7.0 and is closed; a freed slot admits again', async () => {
    const g = await gateway({ config: { limits: { maxConnectionsPerAddress: 2, perAddressExempt: [] } } });
    const a = await LineClient.connect(g.smtpPort);
    const b = await LineClient.connect(g.smtpPort);
    expect((await readReply(a)).code).toBe(220);
    expect((await readReply(b)).code).toBe(220);
    const c = await LineClient.connect(g.smtpPort);
    expect((await readReply(c)).line).toBe('421 4.7.0 mx.test too many connections from your address, try again later');
    await c.waitClosed();
    a.close();
    await a.waitClosed();
    // The slot is released when the socket closes on the server side too: retry until it is (bounded).
    let greeted = '';
    for (let i = 0; i < 50 && !greeted.startsWith('220'); i++) {
      const d = await LineClient.connect(g.smtpPort);
      greeted = (await readReply(d)).line;
      d.close();
    }
    expect(greeted).toMatch(/^220 /);
    b.close();
  });

  it('a flood from one address is refused beyond its bound while another address still gets its banner', async () => {
    const g = await gateway({ config: { limits: { maxConnectionsPerAddress: 5, perAddressExempt: [] } } });
    const FLOOD = 40;
    const flood = await Promise.all(Array.from({ length: FLOOD }, () => LineClient.connect(g.smtpPort, { localAddress: '127.0.0.66' })));
    const replies = await Promise.all(flood.map((c) => readReply(c)));
    const greeted = replies.filter((r) => r.code === 220).length;
    const refused = replies.filter((r) => r.line.startsWith('421 4.7.0 ')).length;
    expect({ greeted, refused }).toEqual({ greeted: 5, refused: FLOOD - 5 });
    // The flooder holds its five slots; another address is greeted as usual.
    const other = await LineClient.connect(g.smtpPort, { localAddress: '127.0.0.67' });
    expect((await readReply(other)).line).toMatch(/^220 mx\.test /);
    expect((await command(other, 'EHLO other.example')).code).toBe(250);
    other.close();
    for (const c of flood) c.close();
  });

  it('loopback is exempt from the per-address bound by default (limits.perAddressExempt), not from the total', async () => {
    const g = await gateway({ config: { limits: { maxConnectionsPerAddress: 1, maxConnections: 3 } } });
    const open = [await LineClient.connect(g.smtpPort), await LineClient.connect(g.smtpPort), await LineClient.connect(g.smtpPort)];
    for (const o of open) expect((await readReply(o)).code).toBe(220);
    const c = await LineClient.connect(g.smtpPort);
    expect((await readReply(c)).line).toBe('421 4.3.2 mx.test too busy, try again later');
    for (const o of open) o.close();
  });

  it('in total (limits.maxConnections): 421 4.3.2', async () => {
    const g = await gateway({ config: { limits: { maxConnections: 2 } } });
    const open = [await LineClient.connect(g.smtpPort), await LineClient.connect(g.smtpPort)];
    for (const o of open) expect((await readReply(o)).code).toBe(220);
    const c = await LineClient.connect(g.smtpPort);
    expect((await readReply(c)).line).toBe('421 4.3.2 mx.test too busy, try again later');
    for (const o of open) o.close();
  });

  it('through a trusted balancer (proxyProtocolFrom, real HAProxy with send-proxy-v2) the client it names is the one counted and recorded', async () => {
    const BALANCER = '127.0.0.80';
    const g = await gateway({ config: { proxyProtocolFrom: [`${BALANCER}/32`], limits: { maxConnectionsPerAddress: 1, perAddressExempt: [] } } });
    const proxy = await startHaproxy({ backendPort: g.smtpPort, source: BALANCER });
    try {
      // Two clients behind the one balancer address: each has its own bound, so both are greeted.
      const a = await LineClient.connect(proxy.port, { localAddress: '127.0.0.81' });
      const b = await LineClient.connect(proxy.port, { localAddress: '127.0.0.82' });
      expect((await readReply(a)).code).toBe(220);
      expect((await readReply(b)).code).toBe(220);
      // A second connection of the first client is over its bound.
      const a2 = await LineClient.connect(proxy.port, { localAddress: '127.0.0.81' });
      expect((await readReply(a2)).line).toMatch(/^421 4\.7\.0 /);
      const before = sink.deliveries.length;
      await command(b, 'EHLO client.example');
      await command(b, 'MAIL FROM:<a@example.net>');
      await command(b, 'RCPT TO:<alice@example.com>');
      expect((await data(b, message('via-balancer'))).done.code).toBe(250);
      await sink.waitFor(before + 1);
      const text = sink.deliveries.find((d) => d.messageId === '<via-balancer@example.net>')!.message.toString();
      expect(text).toMatch(/^Received: from client\.example \(\S* ?\[127\.0\.0\.82\]\)/m);
      for (const c of [a, b, a2]) c.close();
    } finally {
      await proxy.stop();
    }
  });
});

describe('messages per address (inbound.messagesPerAddressPerMinute)', () => {
  it('beyond the rate MAIL FROM gets 450 4.7.1', async () => {
    const g = await gateway({ config: { inbound: { messagesPerAddressPerMinute: 2 } } });
    const { c } = await openSession(g.smtpPort);
    for (let i = 0; i < 2; i++) {
      expect((await command(c, 'MAIL FROM:<a@example.net>')).code).toBe(250);
      expect((await command(c, 'RSET')).code).toBe(250);
    }
    expect((await command(c, 'MAIL FROM:<a@example.net>')).line).toBe('450 4.7.1 too much mail from your address, try again later');
    c.close();
  });
});

describe('RFC 5321 §4.5.3.2.7 idle timeout (inbound.idleTimeoutSeconds)', () => {
  it('a silent client gets 421 4.4.2 and is closed', async () => {
    const g = await gateway({ config: { inbound: { idleTimeoutSeconds: 1 } } });
    const { c } = await openSession(g.smtpPort);
    // Waits for the server's own timeout (bounded by readReply's), no clock here.
    expect((await readReply(c, 20_000)).line).toMatch(/^421 4\.4\.2 /);
    await c.waitClosed();
  });
});

describe('faults become 4xx, never a crash', () => {
  it('an internal error (the router throws) answers 451 4.3.0 and the gateway keeps serving', async () => {
    let calls = 0;
    const g = await gateway({
      over: {
        router: {
          route: async (address) => {
            calls++;
            if (address.startsWith('boom')) throw new Error('directory exploded');
            return { kind: 'unknown-user', address };
          },
        },
      },
    });
    const { c } = await openSession(g.smtpPort);
    await command(c, 'MAIL FROM:<a@example.net>');
    expect((await command(c, 'RCPT TO:<boom@example.com>')).line).toBe('451 4.3.0 local error in processing, try again later');
    expect((await command(c, 'RCPT TO:<other@example.com>')).code).toBe(550);
    expect(calls).toBe(2);
    c.close();
  });

  it('a hosted user without a placed node: 451 4.3.0 (try later), nothing accepted', async () => {
    const g = await startTestGateway({});
    gateways.push(g);
    const { c } = await openSession(g.smtpPort);
    await command(c, 'MAIL FROM:<a@example.net>');
    expect((await command(c, 'RCPT TO:<alice@example.com>')).line).toMatch(/^451 4\.3\.0 /);
    c.close();
  });
});

/** A filter for one phase that does what `act` says. */
function filter(name: string, phases: Filter['phases'], act: (ctx: FilterContext) => Promise<Awaited<ReturnType<Filter['run']>>>, timeoutMs = 2000, onError: Filter['onError'] = 'tempfail'): Filter {
  return { name, phases, timeoutMs, onError, run: act };
}

describe('filters at each phase (Filter[] injected; verdicts → replies)', () => {
  it('connect: a reject is sent instead of the greeting and the connection closed', async () => {
    const g = await gateway({
      over: { filters: [filter('connect.dnsbl', ['connect'], async () => ({ verdict: { kind: 'reject', reply: { code: 554, enhanced: '5.7.1', text: 'listed' } } }))] },
    });
    const c = await LineClient.connect(g.smtpPort);
    expect((await readReply(c)).line).toBe('554 5.7.1 listed');
    await c.waitClosed();
  });

  it('rcpt-to: a temp-fail is that recipient’s answer', async () => {
    const g = await gateway({
      over: {
        filters: [
          filter('rcpt_to.greylist', ['rcpt-to'], async (ctx) =>
            ctx.recipient === 'bob@example.com' ? { verdict: { kind: 'tempfail', reply: { code: 451, enhanced: '4.7.1', text: 'greylisted' } } } : { verdict: { kind: 'continue' } },
          ),
        ],
      },
    });
    const { c } = await openSession(g.smtpPort);
    await command(c, 'MAIL FROM:<a@example.net>');
    expect((await command(c, 'RCPT TO:<alice@example.com>')).code).toBe(250);
    expect((await command(c, 'RCPT TO:<bob@example.com>')).line).toBe('451 4.7.1 greylisted');
    c.close();
  });

  it('data: a reject refuses the message; header edits of an accepted one are delivered', async () => {
    const g = await gateway({
      over: {
        filters: [
          filter('data.spam', ['data'], async (ctx) => {
            const text = (await ctx.message!.bytes()).toString();
            if (text.includes('XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE')) return { verdict: { kind: 'reject', reply: { code: 550, enhanced: '5.7.1', text: 'spam' } } };
            return { verdict: { kind: 'continue' }, headers: [{ op: 'add', name: 'X-Spam-Score', value: '0.1' }, { op: 'add', name: 'Authentication-Results', value: 'mx.test; none', index: 0 }] };
          }),
        ],
      },
    });
    const { c } = await openSession(g.smtpPort);
    await command(c, 'MAIL FROM:<a@example.net>');
    await command(c, 'RCPT TO:<alice@example.com>');
    expect((await data(c, message('gtube', 'XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X'))).done.line).toBe('550 5.7.1 spam');
    await command(c, 'MAIL FROM:<a@example.net>');
    await command(c, 'RCPT TO:<alice@example.com>');
    const before = sink.deliveries.length;
    expect((await data(c, message('clean-filtered'))).done.code).toBe(250);
    await sink.waitFor(before + 1);
    const text = sink.deliveries.find((d) => d.messageId === '<clean-filtered@example.net>')!.message.toString();
    expect(text).toMatch(/^Authentication-Results: mx\.test; none\r\nReceived: /);
    expect(text).toMatch(/\r\nMessage-ID: <clean-filtered@example\.net>\r\nX-Spam-Score: 0\.1\r\n\r\n/);
    c.close();
  });

  it('data: a filter that hangs answers 451 4.7.1 after its timeout (onError tempfail), never a hang', async () => {
    const g = await gateway({
      over: { filters: [filter('data.antivirus', ['data'], (ctx) => new Promise((_, reject) => ctx.signal.addEventListener('abort', () => reject(new Error('aborted')))), 200)] },
    });
    const { c } = await openSession(g.smtpPort);
    await command(c, 'MAIL FROM:<a@example.net>');
    await command(c, 'RCPT TO:<alice@example.com>');
    expect((await data(c, message('hang'))).done.line).toMatch(/^451 4\.7\.1 /);
    c.close();
  });

  it('data: discard answers 250 and delivers nothing', async () => {
    const g = await gateway({ over: { filters: [filter('data.milter', ['data'], async () => ({ verdict: { kind: 'discard', reason: 'milter said so' } }))] } });
    const { c } = await openSession(g.smtpPort);
    await command(c, 'MAIL FROM:<a@example.net>');
    await command(c, 'RCPT TO:<alice@example.com>');
    expect((await data(c, message('discarded'))).done.code).toBe(250);
    expect(await g.queue.ids()).toEqual([]);
    c.close();
  });
});
