import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestCluster, type RunningMember } from '../helpers/cluster';
import { waitFor } from '../helpers/hub';
import { EICAR, EICAR_SIGNATURE, startClamd, type TestClamd } from '../helpers/clamd';
import { dataBlock, mail, sendViaMx, smtp, smtpConnect } from '../helpers/smtp';

/**
 * A gateway in a cluster applies the hub's cluster settings live (issue 12;
 * gateway/settings.ts): a sender put on the blocklist through the admin API
 * is refused at MAIL FROM (550 5.7.1) without a restart, the gateway
 * reports the version it applied (`GET /v1/settings` applied, `GET
 * /v1/members`), and taking the entry off lets the sender in again. The
 * `filters` section points the gateway at a scanner it was not configured
 * with (a real clamd), and its removal goes back to the configured chain.
 * `limits.maxMessageBytes` changes the SIZE (RFC 1870) of sessions that
 * start after it; a session already open keeps the SIZE it advertised.
 */
let cluster: TestCluster;
let gw: RunningMember;

beforeAll(async () => {
  cluster = await TestCluster.create('mf-gw-settings-');
  await cluster.planHubs(1);
  await cluster.startHub(0);
  await waitFor(async () => !!(await cluster.activeHub().catch(() => undefined)), 'hub active');
  await cluster.addUsers('settings.test', 1);
  await cluster.startNode('node-a');
  await cluster.waitPlacement((p) => p.ring.length === 1, 'the node on the ring');
  gw = await cluster.startGateway('gw-0');
}, 120_000);

let clamd: TestClamd | undefined;

afterAll(async () => {
  await cluster?.stop();
  await clamd?.dispose();
});

/** The reply to MAIL FROM and, when accepted, to RCPT TO at the gateway's MX. */
async function mailFrom(sender: string): Promise<string> {
  const { c } = await smtpConnect(gw.port('smtp'));
  try {
    await smtp(c, 'EHLO client.example.org');
    return await smtp(c, `MAIL FROM:<${sender}>`);
  } finally {
    c.socket.destroy();
  }
}

async function appliedBy(id: string): Promise<number> {
  const view = await cluster.admin<{ version: number; applied: Record<string, number> }>('GET', '/v1/settings');
  return view.applied[id] ?? -1;
}

describe('gateway in a cluster: cluster settings applied live', () => {
  it('a blocklisted sender is refused after the change, the gateway reports the version, and is let in again once removed', async () => {
    expect(await mailFrom('spammer@bad.example')).toMatch(/^250/);
    const v1 = (await cluster.admin<{ version: number }>('PUT', '/v1/settings', { settings: { blocklist: { senders: ['bad.example'], ips: [] } } })).version;
    await waitFor(async () => (await appliedBy('gw-0')) === v1, `gw-0 reports settings version ${v1}`, 30_000);
    expect(await mailFrom('spammer@bad.example')).toMatch(/^550 5\.7\.1/);
    expect(await mailFrom('Someone@BAD.example')).toMatch(/^550 5\.7\.1/);
    // Other senders, and the null sender of bounces, are not affected.
    expect(await mailFrom('friend@good.example')).toMatch(/^250/);
    expect(await mailFrom('')).toMatch(/^250/);
    const member = (await cluster.members()).find((m) => m.id === 'gw-0')!;
    expect(member.applied?.settings).toBe(v1);

    const v2 = (await cluster.admin<{ version: number }>('PUT', '/v1/settings', { settings: {} })).version;
    await waitFor(async () => (await appliedBy('gw-0')) === v2, `gw-0 reports settings version ${v2}`, 30_000);
    expect(await mailFrom('spammer@bad.example')).toMatch(/^250/);
  }, 90_000);

  it('a blocklisted client address is refused at connect (554 5.7.1) instead of the greeting', async () => {
    const v = (await cluster.admin<{ version: number }>('PUT', '/v1/settings', { settings: { blocklist: { ips: ['127.0.0.0/8'], senders: [] } } })).version;
    await waitFor(async () => (await appliedBy('gw-0')) === v, `gw-0 reports settings version ${v}`, 30_000);
    const { c, greeting } = await smtpConnect(gw.port('smtp'));
    c.socket.destroy();
    expect(greeting).toMatch(/^554 5\.7\.1/);
    const v2 = (await cluster.admin<{ version: number }>('PUT', '/v1/settings', { settings: {} })).version;
    await waitFor(async () => (await appliedBy('gw-0')) === v2, `gw-0 reports settings version ${v2}`, 30_000);
    expect(await mailFrom('friend@good.example')).toMatch(/^250/);
  }, 90_000);

  it('limits.maxMessageBytes: new sessions advertise the new SIZE and refuse more with 552 5.3.4; a session opened before keeps its SIZE', async () => {
    const to = 'user0@settings.test';
    const sizeOf = (ehlo: string) => Number(/^250[- ]SIZE (\d+)$/m.exec(ehlo)?.[1]);
    const big = `${'x'.repeat(70)}\r\n`.repeat(100); // 7,200 bytes of body
    // A session that advertised the configured size before the change.
    const before = await smtpConnect(gw.port('smtp'));
    try {
      const configured = sizeOf(await smtp(before.c, 'EHLO before.example.org'));
      expect(configured).toBeGreaterThan(8192);
      const v = (await cluster.admin<{ version: number }>('PUT', '/v1/settings', { settings: { limits: { maxMessageBytes: 4096 } } })).version;
      await waitFor(async () => (await appliedBy('gw-0')) === v, `gw-0 reports settings version ${v}`, 30_000);

      // A new session: SIZE 4096 in EHLO, SIZE= above it refused at MAIL FROM, a larger DATA refused at its end.
      const { c } = await smtpConnect(gw.port('smtp'));
      try {
        expect(sizeOf(await smtp(c, 'EHLO after.example.org'))).toBe(4096);
        expect(await smtp(c, 'MAIL FROM:<sender@example.org> SIZE=5000')).toMatch(/^552 5\.3\.4/);
        expect(await smtp(c, 'MAIL FROM:<sender@example.org> SIZE=1000')).toMatch(/^250/);
      } finally {
        c.socket.destroy();
      }
      expect((await sendViaMx(gw.port('smtp'), [to], 'too-big-now', { body: big })).data).toMatch(/^552 5\.3\.4/);
      expect((await sendViaMx(gw.port('smtp'), [to], 'small')).data).toMatch(/^250/);

      // The session opened before the change still takes what it advertised.
      expect(await smtp(before.c, 'MAIL FROM:<sender@example.org> SIZE=7500')).toMatch(/^250/);
      expect(await smtp(before.c, `RCPT TO:<${to}>`)).toMatch(/^250/);
      expect(await smtp(before.c, 'DATA')).toMatch(/^354/);
      expect(await smtp(before.c, dataBlock(mail({ to, subject: 'advertised-before', messageId: '<advertised-before@example.org>', body: big })))).toMatch(/^250/);
    } finally {
      before.c.socket.destroy();
    }

    // Removed: back to the configured size for new sessions.
    const v2 = (await cluster.admin<{ version: number }>('PUT', '/v1/settings', { settings: {} })).version;
    await waitFor(async () => (await appliedBy('gw-0')) === v2, `gw-0 reports settings version ${v2}`, 30_000);
    const { c } = await smtpConnect(gw.port('smtp'));
    try {
      expect(sizeOf(await smtp(c, 'EHLO again.example.org'))).toBeGreaterThan(8192);
    } finally {
      c.socket.destroy();
    }
    expect((await sendViaMx(gw.port('smtp'), [to], 'big-again', { body: big })).data).toMatch(/^250/);
  }, 90_000);

  it('filters.clamd from the settings: a virus is refused naming its signature, clean mail delivered; removed, the configured chain (no clamd) again', async () => {
    clamd = await startClamd();
    const to = 'user0@settings.test';
    const v = (await cluster.admin<{ version: number }>('PUT', '/v1/settings', { settings: { filters: { clamd: { address: clamd.tcp } } } })).version;
    await waitFor(async () => (await appliedBy('gw-0')) === v, `gw-0 reports settings version ${v}`, 30_000);
    const infected = await sendViaMx(gw.port('smtp'), [to], 'infected', { body: `${EICAR}\r\n` });
    expect(infected.data).toMatch(/^554 5\.7\.1/);
    expect(infected.data).toContain(EICAR_SIGNATURE);
    expect((await sendViaMx(gw.port('smtp'), [to], 'clean')).data).toMatch(/^250/);
    const v2 = (await cluster.admin<{ version: number }>('PUT', '/v1/settings', { settings: {} })).version;
    await waitFor(async () => (await appliedBy('gw-0')) === v2, `gw-0 reports settings version ${v2}`, 30_000);
    expect((await sendViaMx(gw.port('smtp'), [to], 'unscanned', { body: `${EICAR}\r\n` })).data).toMatch(/^250/);
  }, 120_000);
});
