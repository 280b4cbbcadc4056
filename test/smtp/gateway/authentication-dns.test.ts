import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { tmpdir } from 'node:os';
import { createTransport } from 'nodemailer';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { parseRuntimeConfig } from '../../../mail-runtime/config';
import { buildFilters } from '../../../mail-runtime/smtp/filters';
import { serversResolver } from '../../../mail-runtime/smtp/filters/dns-cache';
import { DnsStub } from '../../helpers/dns-stub';
import { gatewayConfig, startTestGateway, type GatewayConfigInput, type TestGateway } from '../../helpers/gateway';
import { startLmtpSink, type LmtpSink } from '../../helpers/lmtp-sink';
import { ALICE } from '../../helpers/users';

/**
 * The MX's SPF/DKIM/DMARC checks against real DNS servers on loopback
 * (issue 14: acceptance must not wait on DNS per message):
 * - a resolver that never answers: the message is still accepted — the
 *   lookups end with the per-message budget (`lookupTimeoutMs`), long
 *   before the filter's own time-out would answer 451 — and the
 *   Authentication-Results header says temperror (RFC 8601 §2.7.2 SPF,
 *   §2.7.1 DMARC via RFC 7489 §11.2);
 * - a resolver that answers "no such name": the second message of the same
 *   sender domain asks nothing (negative answers cached, RFC 2308 §5); the
 *   time of each step of the two transactions is on /metrics.
 */
describe('gateway authentication filter and DNS', () => {
  let sink: LmtpSink;
  let silent: UdpSocket;
  let stub: DnsStub;
  let gw: TestGateway | undefined;
  beforeAll(async () => {
    sink = await startLmtpSink();
    stub = await DnsStub.start();
    silent = createSocket('udp4');
    await new Promise<void>((r) => silent.bind(0, '127.0.0.1', r));
  });
  afterEach(async () => {
    await gw?.dispose();
    gw = undefined;
  });
  afterAll(async () => {
    silent?.close();
    await stub?.close();
    await sink?.stop();
  });

  /** A gateway whose authentication filter asks `servers`; the filter's own time-out far above the lookup budget. */
  async function gatewayAsking(servers: string[]): Promise<TestGateway> {
    const config: Partial<GatewayConfigInput> = { filters: { authentication: { enabled: true, timeoutMs: 60_000, lookupTimeoutMs: 300, onError: 'tempfail' } } };
    const cfg = parseRuntimeConfig(gatewayConfig(tmpdir(), sink.port, config), 'test gateway config');
    if (cfg.role !== 'gateway') throw new Error('unreachable');
    return startTestGateway({ lmtpPort: sink.port, config, over: { filters: buildFilters(cfg, { resolver: serversResolver(servers) }) } });
  }

  async function send(port: number, from: string, messageId: string): Promise<string> {
    const t = createTransport({ host: '127.0.0.1', port, secure: false, ignoreTLS: true, name: 'mail.sender.example' });
    try {
      return (await t.sendMail({ from, to: ALICE.address, subject: messageId, text: 'checked on arrival', messageId })).response;
    } catch (err) {
      return (err as { response?: string }).response ?? String(err);
    } finally {
      t.close();
    }
  }

  function delivered(messageId: string): string {
    const d = sink.deliveries.find((x) => x.messageId === messageId);
    if (!d) throw new Error(`${messageId} not delivered; have ${sink.deliveries.map((x) => x.messageId).join(', ')}`);
    return d.message.toString();
  }

  it('a resolver that never answers: accepted (250, not the filter time-out\'s 451) with spf=temperror and dmarc=temperror', async () => {
    const queries: number[] = [];
    silent.on('message', () => queries.push(1));
    gw = await gatewayAsking([`127.0.0.1:${silent.address().port}`]);
    const reply = await send(gw.smtpPort, 'someone@sender.example', '<silent-1@sender.example>');
    expect(reply).toMatch(/^250 /);
    await sink.waitFor(1);
    await gw.runner.idle();
    const text = delivered('<silent-1@sender.example>');
    const ar = /^Authentication-Results: mx\.test;[^]*?(?=\r\n\S)/m.exec(text)?.[0] ?? '';
    expect(ar).toMatch(/spf=temperror/);
    expect(ar).toMatch(/dmarc=temperror/);
    expect(text).toMatch(/^Received-SPF: temperror/m);
    // The silent server was asked: the temperror came from the lookup, not from a check skipped.
    expect(queries.length).toBeGreaterThan(0);
  });

  it('a resolver that answers NXDOMAIN: the second message of the same domain asks nothing (negative answers cached)', async () => {
    gw = await gatewayAsking([stub.address]);
    expect(await send(gw.smtpPort, 'a@cached.example', '<cached-1@cached.example>')).toMatch(/^250 /);
    const asked = stub.queries.length;
    expect(stub.queries.map((q) => `${q.type} ${q.name}`)).toEqual(expect.arrayContaining(['TXT cached.example', 'TXT _dmarc.cached.example']));
    expect(await send(gw.smtpPort, 'b@cached.example', '<cached-2@cached.example>')).toMatch(/^250 /);
    expect(stub.queries.length).toBe(asked);
    await sink.waitFor(3);
    await gw.runner.idle();
    for (const id of ['<cached-1@cached.example>', '<cached-2@cached.example>']) {
      const text = delivered(id);
      expect(text).toMatch(/spf=none/);
      expect(text).toMatch(/dmarc=none/);
    }
    // Where each transaction spent its time is on /metrics: one observation per step and message.
    const metrics = await (await fetch(`http://127.0.0.1:${gw.healthPort}/metrics`)).text();
    for (const stage of ['mail-from', 'rcpt-to', 'data-receive', 'data-filters', 'data-queue']) {
      expect(metrics, stage).toMatch(new RegExp(`^mailfleet_smtp_stage_seconds_count\\{[^}]*stage="${stage}"[^}]*\\} 2$`, 'm'));
    }
  });
});
