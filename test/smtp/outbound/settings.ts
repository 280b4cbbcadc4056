import { RuntimeConfig, type RuntimeConfigInput } from '../../../mail-runtime/config';
import type { QueueEntry } from '../../../mail-runtime/smtp/queue/types';
import type { OutboundSettings } from '../../../mail-runtime/smtp/outbound';

type GatewayInput = Extract<RuntimeConfigInput, { role: 'gateway' }>;

/** A gateway config parsed by the real schema (so defaults are the shipped ones), with the outbound block the test gives. */
export function gatewaySettings(outbound: GatewayInput['outbound'] = {}, extra: Partial<GatewayInput> = {}): OutboundSettings {
  const cfg = RuntimeConfig.parse({
    role: 'gateway',
    memberId: 'gw-0',
    cluster: 'test',
    hostname: 'gw.mailfleet.test',
    management: { port: 0 },
    storage: { path: '/tmp/unused' },
    listen: { smtp: { port: 0 } },
    hostedDomains: ['mailfleet.test'],
    ...extra,
    // Tests never reach real DNS by accident: a resolver that does not exist unless a test starts a stub.
    outbound: { resolvers: ['127.0.0.1:9'], ...outbound },
  });
  if (cfg.role !== 'gateway') throw new Error('not a gateway config');
  return cfg;
}

let seq = 0;
export function entry(over: Partial<QueueEntry> = {}): QueueEntry {
  const now = new Date();
  return {
    id: `t${Date.now()}-${seq++}`,
    receivedAt: now.toISOString(),
    mailFrom: 'alice@mailfleet.test',
    recipients: [],
    size: 0,
    expiresAt: new Date(now.getTime() + 5 * 86_400_000).toISOString(),
    owner: { memberId: 'gw-0', epoch: 1 },
    origin: 'submission',
    ...over,
  };
}

export function message(subject = 'hello', from = 'Alice <alice@mailfleet.test>', to = 'Bob <bob@example.net>'): Buffer {
  return Buffer.from(
    [`From: ${from}`, `To: ${to}`, `Subject: ${subject}`, 'Date: Tue, 01 Dec 2026 10:00:00 +0000', `Message-ID: <${seq++}.${Date.now()}@mailfleet.test>`, 'MIME-Version: 1.0', 'Content-Type: text/plain; charset=utf-8', '', 'Hello Bob,', '.a line starting with a dot', 'bye', ''].join('\r\n'),
  );
}
