import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTransport } from 'nodemailer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { issueMemberCertificate } from '../../../mail-runtime/hub/ca';
import { parseRuntimeConfig } from '../../../mail-runtime/config';
import { nodeOptionsFromConfig } from '../../../mail-runtime/node';
import { GatewayRelay } from '../../../mail-runtime/smtp/submission';
import { startTestGateway, type TestGateway } from '../../helpers/gateway';
import { makeCa } from '../../helpers/pki';
import { startTestNode, type TestNode } from '../../helpers/node';
import { startSink, type Sink } from '../../helpers/smtp-sink';
import { ALICE } from '../../helpers/users';

/**
 * The node → gateway relay hop verifies the gateway's certificate against
 * the cluster CA (`clusterTls.caFile`), loopback included once a CA is
 * configured: a gateway whose certificate another CA issued gets nothing
 * (the client's message is temp-failed, 451, so it retries; nothing is
 * queued at that gateway), the right CA lets the message through. The
 * node's own public certificate is a way in only where no cluster CA is
 * configured.
 */
const TOKEN = 'cluster-token-for-tls-tests-0123456789';

async function waitFor(what: string, done: () => boolean): Promise<void> {
  for (let i = 0; i < 300 && !done(); i++) await new Promise((r) => setTimeout(r, 100));
  if (!done()) throw new Error(`timed out waiting for ${what}`);
}

let dir: string;
let sink: Sink;
let gw: TestGateway;
let trusting: TestNode;
let foreign: TestNode;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mf-relay-tls-'));
  const [clusterCa, otherCa] = await Promise.all([makeCa('mailfleet cluster CA'), makeCa('some other CA')]);
  const cert = await issueMemberCertificate({ certPem: clusterCa.cert, keyPem: clusterCa.key }, { memberId: 'test-gateway-0', names: ['127.0.0.1'] });
  await Promise.all([
    writeFile(join(dir, 'cluster-token'), TOKEN),
    writeFile(join(dir, 'cluster-ca.pem'), clusterCa.cert),
    writeFile(join(dir, 'other-ca.pem'), otherCa.cert),
    writeFile(join(dir, 'gw.crt'), cert.certPem),
    writeFile(join(dir, 'gw.key'), cert.keyPem),
  ]);
  sink = await startSink();
  gw = await startTestGateway({
    dir,
    config: {
      listen: { smtp: { host: '127.0.0.1', port: 0 }, relay: { host: '127.0.0.1', port: 0 } },
      clusterTokenFile: join(dir, 'cluster-token'),
      // The relay listener presents the member certificate the cluster CA issued.
      clusterTls: { caFile: join(dir, 'cluster-ca.pem'), certFile: join(dir, 'gw.crt'), keyFile: join(dir, 'gw.key') },
      outbound: { routes: { 'example.net': `127.0.0.1:${sink.port}` } },
    },
  });
  const relay = `127.0.0.1:${gw.relayPort!}`;
  [trusting, foreign] = await Promise.all([
    startTestNode({ submission: true, gatewayRelay: relay, clusterTokenFile: join(dir, 'cluster-token'), clusterTls: { caFile: join(dir, 'cluster-ca.pem') } }),
    startTestNode({ submission: true, gatewayRelay: relay, clusterTokenFile: join(dir, 'cluster-token'), clusterTls: { caFile: join(dir, 'other-ca.pem') } }),
  ]);
}, 60_000);
afterAll(async () => {
  await Promise.all([trusting?.dispose(), foreign?.dispose()]);
  await gw?.dispose();
  await sink?.close();
  await rm(dir, { recursive: true, force: true });
});

async function submit(node: TestNode, messageId: string): Promise<{ accepted?: unknown[]; responseCode?: number; response?: string }> {
  const t = createTransport({ host: '127.0.0.1', port: node.submissionPort, secure: false, auth: { user: ALICE.address, pass: ALICE.password }, tls: { rejectUnauthorized: false }, logger: false });
  t.on('error', () => undefined);
  try {
    return await t.sendMail({ from: ALICE.address, to: 'dave@example.net', subject: 'out', text: 'Leaving.', messageId });
  } catch (err) {
    return err as { responseCode?: number; response?: string };
  } finally {
    t.close();
  }
}

describe('relay hop TLS: the gateway certificate is verified against the cluster CA', () => {
  it('a gateway certificate from another CA: the submission is temp-failed (451), nothing reaches the gateway queue or the sink', async () => {
    const before = gw.runner.size;
    const r = await submit(foreign, '<relay-wrong-ca@example.com>');
    expect(r.responseCode).toBe(451);
    expect(r.response).toMatch(/^451 4\.3\.0 /);
    expect(gw.runner.size).toBe(before);
    expect(sink.messages.some((m) => m.data.toString().includes('<relay-wrong-ca@example.com>'))).toBe(false);
  });

  it('the relay client names the fault: the certificate is not trusted by the cluster CA it was checked against', async () => {
    const relay = new GatewayRelay({ host: '127.0.0.1', port: gw.relayPort! }, 'node.test', { user: 'test-node', pass: TOKEN }, { pems: [await readFile(join(dir, 'other-ca.pem'), 'utf8')], systemRoots: false, what: 'the cluster CA (clusterTls.caFile)' });
    const entry = { mailFrom: ALICE.address, recipients: [{ address: 'dave@example.net', status: 'pending' as const, attempts: 0 }], expiresAt: new Date(Date.now() + 60_000).toISOString(), origin: 'submission' as const };
    await expect(relay.enqueue(entry, Buffer.from('Subject: x\r\n\r\nx\r\n'))).rejects.toThrow(/^gateway relay 127\.0\.0\.1:\d+: TLS certificate not trusted, checked against the cluster CA \(clusterTls\.caFile\)/);
  });

  it("the node's own public certificate is trusted only where there is no cluster CA (self-signed mode without the tls provider)", async () => {
    // A gateway without a cluster-CA certificate presents its public one; the components give every member the same self-signed pair.
    const selfGw = await startTestGateway({
      dir: await mkdtemp(join(dir, 'self-gw-')),
      config: {
        listen: { smtp: { host: '127.0.0.1', port: 0 }, relay: { host: '127.0.0.1', port: 0 } },
        clusterTokenFile: join(dir, 'cluster-token'),
        tls: { certFile: join(dir, 'shared.crt'), keyFile: join(dir, 'shared.key'), generateIfMissing: true },
        outbound: { routes: { 'example.net': `127.0.0.1:${sink.port}` } },
      },
    });
    try {
      const entry = { mailFrom: ALICE.address, recipients: [{ address: 'dave@example.net', status: 'pending' as const, attempts: 0 }], expiresAt: new Date(Date.now() + 60_000).toISOString(), origin: 'submission' as const };
      const message = (id: string) => Buffer.from(`Message-ID: ${id}\r\nSubject: x\r\n\r\nx\r\n`);
      // The relay queue a node builds from its RuntimeConfig (node/from-config.ts relayTrust), with the same public certificate as the gateway.
      const relayOf = (clusterTls?: { caFile: string }) => {
        const cfg = parseRuntimeConfig(
          {
            role: 'node',
            memberId: 'test-node',
            cluster: 'test',
            management: { host: '127.0.0.1', port: 0 },
            storage: { path: join(dir, 'node-storage') },
            listen: { imap: { host: '127.0.0.1', port: 0 }, pop3: { host: '127.0.0.1', port: 0 }, lmtp: { host: '127.0.0.1', port: 0 } },
            tls: { certFile: join(dir, 'shared.crt'), keyFile: join(dir, 'shared.key') },
            gatewayRelay: `127.0.0.1:${selfGw.relayPort!}`,
            clusterTokenFile: join(dir, 'cluster-token'),
            ...(clusterTls ? { clusterTls } : {}),
          },
          'relay trust test',
        );
        if (cfg.role !== 'node') throw new Error('unreachable');
        return nodeOptionsFromConfig(cfg).queue!;
      };
      // With a cluster CA, the CA alone: the public certificate is no longer a way in.
      await expect(relayOf({ caFile: join(dir, 'cluster-ca.pem') }).enqueue(entry, message('<self-with-ca@example.com>'))).rejects.toThrow(/TLS certificate not trusted, checked against the cluster CA/);
      // Without one, the fallback: the cluster's own public certificate.
      await relayOf().enqueue(entry, message('<self-no-ca@example.com>'));
      await waitFor('the relayed message at the sink', () => sink.messages.some((m) => m.data.toString().includes('<self-no-ca@example.com>')));
      expect(sink.messages.some((m) => m.data.toString().includes('<self-with-ca@example.com>'))).toBe(false);
    } finally {
      await selfGw.dispose();
    }
  });

  it('the cluster CA: the same submission is relayed and reaches the remote MX', async () => {
    const r = await submit(trusting, '<relay-right-ca@example.com>');
    expect(r.accepted).toEqual(['dave@example.net']);
    await waitFor('the relayed message at the sink', () => sink.messages.some((m) => m.data.toString().includes('<relay-right-ca@example.com>')));
    // Still nothing from the node that does not trust the gateway.
    expect(sink.messages.some((m) => m.data.toString().includes('<relay-wrong-ca@example.com>'))).toBe(false);
  });

  it('a gateway trusting every source for PROXY v2 (Docker behind HAProxy) still greets members on its relay listener without a header; its MX waits for one', async () => {
    const trusting = await startTestGateway({
      dir: await mkdtemp(join(dir, 'proxied-gw-')),
      config: {
        listen: { smtp: { host: '127.0.0.1', port: 0 }, relay: { host: '127.0.0.1', port: 0 } },
        clusterTokenFile: join(dir, 'cluster-token'),
        proxyProtocolFrom: ['0.0.0.0/0', '::/0'],
      },
    });
    try {
      // What a connection without a header is first told within `waitMs` ('' when nothing): a bound, not a timing.
      const firstWords = (port: number, waitMs: number) =>
        new Promise<string>((resolve) => {
          const sock = connect({ host: '127.0.0.1', port });
          let got = '';
          const done = () => {
            clearTimeout(t);
            sock.destroy();
            resolve(got);
          };
          const t = setTimeout(done, waitMs);
          sock.on('data', (d: Buffer) => {
            got += d.toString();
            if (got.includes('\r\n')) done();
          });
          sock.on('error', done);
          sock.on('close', done);
        });
      expect(await firstWords(trusting.relayPort!, 30_000)).toMatch(/^220 /);
      // The MX reads a PROXY header first and says nothing until it has one (a loaded machine can only make this pass, never fail).
      expect(await firstWords(trusting.smtpPort, 2000)).toBe('');
    } finally {
      await trusting.dispose();
    }
  });
});
