import { createTransport } from 'nodemailer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestGateway, type TestGateway } from '../../helpers/gateway';
import { startTestNode, type TestNode } from '../../helpers/node';
import { startSink, type Sink } from '../../helpers/smtp-sink';
import { ALICE } from '../../helpers/users';

/**
 * Submission on a node for a recipient outside the cluster: the node hands
 * the message to the gateway (config `gatewayRelay`, the node's address in
 * the gateway's relayNetworks), whose queue delivers it through the
 * outbound transport to a loopback sink.
 */
describe('node submission → gateway → outbound sink', () => {
  let sink: Sink;
  let gw: TestGateway;
  let node: TestNode;
  beforeAll(async () => {
    sink = await startSink();
    gw = await startTestGateway({ config: { relayNetworks: ['127.0.0.0/8'], outbound: { routes: { 'example.net': `127.0.0.1:${sink.port}` } } } });
    node = await startTestNode({ submission: true, gatewayRelay: `127.0.0.1:${gw.smtpPort}` });
  }, 60_000);
  afterAll(async () => {
    await node?.dispose();
    await gw?.dispose();
    await sink?.close();
  });

  it('a submitted message for outside is queued by the gateway and reaches the remote MX', async () => {
    const t = createTransport({
      host: '127.0.0.1',
      port: node.submissionPort,
      secure: false,
      auth: { user: ALICE.address, pass: ALICE.password },
      tls: { rejectUnauthorized: false },
      logger: false,
    });
    try {
      const info = await t.sendMail({ from: ALICE.address, to: 'bob@example.net', subject: 'to the world', text: 'Leaving the cluster.', messageId: '<relay-1@example.com>' });
      expect(info.accepted).toEqual(['bob@example.net']);
      expect(info.response).toMatch(/^250 2\.0\.0 Ok: queued as \S+/);
    } finally {
      t.close();
    }
    for (let i = 0; i < 300 && sink.messages.length === 0; i++) await new Promise((r) => setTimeout(r, 100));
    expect(sink.messages.map((m) => [m.mailFrom, m.rcptTo])).toEqual([[ALICE.address, ['bob@example.net']]]);
    expect(sink.messages[0]!.data.toString()).toContain('Message-ID: <relay-1@example.com>');
    await gw.runner.idle();
    expect(await gw.queue.ids()).toEqual([]);
  });
});
