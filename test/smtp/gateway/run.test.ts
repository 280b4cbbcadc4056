import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseClusterSpec, renderRuntimeConfigs } from '../../../components';
import { loadRuntimeConfig, parseRuntimeConfig, RuntimeConfigError } from '../../../mail-runtime/config';
import { gatewayConfig, spawnGateway, writeGatewayUsers, type SpawnedGateway } from '../../helpers/gateway';
import { startLmtpSink } from '../../helpers/lmtp-sink';
import { command, data, message, openSession } from '../../helpers/smtp-raw';

/**
 * The gateway role as an operator runs it, and its RuntimeConfig fields:
 * one default each (the schema), MAILFLEET_* variables, and what the
 * local render gives the gateway.
 */
const cleanup: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const c of cleanup.reverse()) await c().catch(() => undefined);
});

describe('mailfleet run --role gateway', () => {
  it('serves SMTP and the management port (healthz, readyz, metrics); SIGTERM stops it cleanly', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'mf-gwrun-'));
    cleanup.push(() => rm(dir, { recursive: true, force: true }));
    await writeGatewayUsers(join(dir, 'users.yaml'));
    const sink = await startLmtpSink();
    cleanup.push(() => sink.stop());
    const gw: SpawnedGateway = await spawnGateway(dir, gatewayConfig(dir, sink.port));
    cleanup.push(() => gw.stop());

    const { c } = await openSession(gw.smtpPort);
    await command(c, 'MAIL FROM:<bench-sender@example.net>');
    await command(c, 'RCPT TO:<alice@example.com>');
    expect((await data(c, message('run-1'))).done.code).toBe(250);
    c.close();
    await sink.waitFor(1);

    const base = `http://127.0.0.1:${gw.healthPort}`;
    expect(await (await fetch(`${base}/healthz`)).json()).toMatchObject({ status: 'ok', role: 'gateway', member: 'test-gateway-0' });
    expect((await fetch(`${base}/readyz`)).status).toBe(200);
    // The sink holds the message a moment before the gateway journals it finished: wait for that (bounded), not for a time.
    let metrics = '';
    for (let i = 0; i < 600; i++) {
      metrics = await (await fetch(`${base}/metrics`)).text();
      if (/^mailfleet_queue_entries\{.*\} 0$/m.test(metrics)) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(metrics).toMatch(/^mailfleet_smtp_transactions_total\{outcome="accepted",phase="data",role="gateway",member="test-gateway-0"\} 1$/m);
    expect(metrics).toMatch(/^mailfleet_queue_deliveries_total\{status="delivered",via="lmtp",.*\} 1$/m);
    expect(metrics).toMatch(/^mailfleet_queue_entries\{.*\} 0$/m);
    // One message: its segment fsynced when queued, one journal line (finished) when delivered.
    expect(metrics).toMatch(/^mailfleet_queue_fsyncs\{kind="file",.*\} 2$/m);

    gw.child.kill('SIGTERM');
    const code = await new Promise<number | null>((r) => gw.child.once('exit', (c2) => r(c2)));
    expect(code).toBe(0);
  }, 60_000);
});

describe('RuntimeConfig gateway fields', () => {
  const base = { role: 'gateway', memberId: 'demo-gateway-0', cluster: 'demo', management: { port: 9090 }, storage: { path: '/x' }, listen: { smtp: { port: 25 } } };

  it('one default each', () => {
    const cfg = parseRuntimeConfig(base);
    if (cfg.role !== 'gateway') throw new Error('role');
    expect(cfg.placement).toEqual({ routes: {} });
    expect(cfg.inbound).toEqual({ maxRecipients: 100, messagesPerAddressPerMinute: 600, idleTimeoutSeconds: 300, relayMessagesPerMemberPerMinute: 6000 });
    expect(cfg.queue).toEqual({ retryFirstSeconds: 60, retryMaxSeconds: 3600, expireHours: 120, deliveryConcurrency: 16 });
    expect(cfg.directory).toBeUndefined();
  });

  it('bad values name the field: fewer than 100 recipients (RFC 5321 §4.5.3.1.8), a route without a port', () => {
    const bad = () => parseRuntimeConfig({ ...base, inbound: { maxRecipients: 10 }, placement: { routes: { 'example.com': { memberId: 'n', host: 'h' } } } });
    expect(bad).toThrow(RuntimeConfigError);
    expect(bad).toThrow(/inbound\.maxRecipients: at least 100/);
    expect(bad).toThrow(/placement\.routes\["example\.com"\]\.port: required/);
  });

  it('MAILFLEET_PLACEMENT_DEFAULT and the queue/inbound variables; a bad one names the variable', () => {
    const env = {
      MAILFLEET_ROLE: 'gateway',
      MAILFLEET_MEMBER_ID: 'demo-gateway-0',
      MAILFLEET_CLUSTER: 'demo',
      MAILFLEET_MANAGEMENT: '9090',
      MAILFLEET_STORAGE_PATH: '/var/lib/mailfleet',
      MAILFLEET_LISTEN_SMTP: '25',
      MAILFLEET_PLACEMENT_DEFAULT: 'demo-node-0@10.0.0.5:24',
      MAILFLEET_QUEUE_EXPIRE_HOURS: '48',
      MAILFLEET_INBOUND_MAX_RECIPIENTS: '500',
    };
    const cfg = loadRuntimeConfig({ env });
    if (cfg.role !== 'gateway') throw new Error('role');
    expect(cfg.placement.default).toEqual({ memberId: 'demo-node-0', host: '10.0.0.5', port: 24 });
    expect(cfg.queue.expireHours).toBe(48);
    expect(cfg.inbound.maxRecipients).toBe(500);
    expect(() => loadRuntimeConfig({ env: { ...env, MAILFLEET_PLACEMENT_DEFAULT: '10.0.0.5:24' } })).toThrow(/MAILFLEET_PLACEMENT_DEFAULT: must be memberId@host:port/);
  });

  it('the local render routes through the hub: no static placement, the hub URL and cluster token instead', () => {
    const members = renderRuntimeConfigs(parseClusterSpec({ name: 'demo', platform: { kind: 'local' }, domains: [{ name: 'example.test' }] }));
    const node0 = members.find((m) => m.memberId === 'demo-node-0')!.config;
    const gw = members.find((m) => m.role === 'gateway')!.config;
    if (node0.role !== 'node' || gw.role !== 'gateway') throw new Error('roles');
    // The hub's placement map routes every mailbox (issue 12); a static default would bypass it.
    expect(gw.placement.default).toBeUndefined();
    expect(gw.hubUrl ?? gw.hubUrls?.[0]).toMatch(/^https?:\/\/127\.0\.0\.1:\d+/);
    expect(gw.clusterTokenFile).toBeTruthy();
    expect(gw.hostedDomains).toEqual(['example.test']);
  });
});
