import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SmtpOutbound, Srs, SrsError } from '../../../mail-runtime/smtp/outbound';
import { startSink, type Sink } from '../../helpers/smtp-sink';
import { entry, gatewaySettings, message } from './settings';

const secret = 'a-long-enough-test-secret';
const day = 86_400_000;
const at = (d: number) => () => new Date(Date.UTC(2026, 0, 1) + d * day);

describe('SRS (SRS0/SRS1 with HMAC and timestamp)', () => {
  const srs = new Srs({ domain: 'fwd.mailfleet.test', secrets: [secret], maxAgeDays: 21, now: at(0) });

  it('rewrites a sender into SRS0 and reverses it for the bounce', () => {
    const rewritten = srs.forward('alice@example.org');
    expect(rewritten).toMatch(/^SRS0=[A-Za-z0-9+/]{4}=[A-Z2-7]{2}=example\.org=alice@fwd\.mailfleet\.test$/);
    expect(srs.isOurs(rewritten)).toBe(true);
    expect(srs.reverse(rewritten)).toBe('alice@example.org');
    // Some MTAs lowercase the local part on the way back.
    expect(srs.reverse(rewritten.toLowerCase())).toBe('alice@example.org');
  });

  it('round-trips any address (property)', () => {
    fc.assert(
      fc.property(fc.emailAddress(), (addr) => {
        const local = addr.slice(0, addr.lastIndexOf('@'));
        const domain = addr.slice(addr.lastIndexOf('@') + 1).toLowerCase();
        expect(srs.reverse(srs.forward(`${local}@${domain}`))).toBe(`${local}@${domain}`);
      }),
    );
  });

  it('refuses forged hashes, expired timestamps and other domains', () => {
    const good = srs.forward('alice@example.org');
    const forged = good.replace(/^SRS0=(....)/, (_m, h: string) => `SRS0=${h === 'AAAA' ? 'BBBB' : 'AAAA'}`);
    expect(() => srs.reverse(forged)).toThrow(SrsError);
    const later = new Srs({ domain: 'fwd.mailfleet.test', secrets: [secret], maxAgeDays: 21, now: at(22) });
    expect(() => later.reverse(good)).toThrow(/expired/);
    expect(new Srs({ domain: 'fwd.mailfleet.test', secrets: [secret], maxAgeDays: 21, now: at(21) }).reverse(good)).toBe('alice@example.org');
    expect(() => srs.reverse('alice@example.org')).toThrow(/not in the SRS domain/);
    // Rotation: a new first secret still verifies addresses made with the old one.
    const rotated = new Srs({ domain: 'fwd.mailfleet.test', secrets: ['the-next-secret-0001', secret], maxAgeDays: 21, now: at(1) });
    expect(rotated.reverse(good)).toBe('alice@example.org');
    expect(() => new Srs({ domain: 'x.test', secrets: ['short'], maxAgeDays: 1 })).toThrow(/16 or more/);
  });

  it('turns another forwarder’s SRS0 into SRS1 naming them, and reverses it back to their SRS0', () => {
    const first = new Srs({ domain: 'first-hop.example', secrets: ['first-forwarder-secret'], maxAgeDays: 21, now: at(0) });
    const srs0 = first.forward('alice@example.org');
    const srs1 = srs.forward(srs0);
    expect(srs1).toMatch(/^SRS1=[A-Za-z0-9+/]{4}=first-hop\.example==/);
    expect(srs.reverse(srs1)).toBe(srs0);
    expect(first.reverse(srs.reverse(srs1))).toBe('alice@example.org');
    // A third hop keeps the first forwarder and stays the same length class.
    const third = new Srs({ domain: 'third.example', secrets: ['third-forwarder-secret'], maxAgeDays: 21, now: at(0) });
    const again = third.forward(srs1);
    expect(again).toMatch(/^SRS1=[A-Za-z0-9+/]{4}=first-hop\.example==/);
    expect(third.reverse(again)).toBe(srs0);
  });
});

describe('SRS on forwarded mail through the transport', () => {
  let sink: Sink;
  let dir: string;
  beforeAll(async () => {
    sink = await startSink();
    dir = mkdtempSync(join(tmpdir(), 'mf-srs-'));
    writeFileSync(join(dir, 'srs.secret'), `${secret}\n`);
  });
  afterAll(() => sink.close());

  it('forwards with an SRS0 envelope sender that reverses to the original; own users and submissions keep theirs', async () => {
    const t = await SmtpOutbound.create(
      gatewaySettings({ routes: { 'example.net': `127.0.0.1:${sink.port}` }, srs: { domain: 'fwd.mailfleet.test', secretFile: join(dir, 'srs.secret') } }),
    );
    await t.deliver(entry({ origin: 'forward', mailFrom: 'carol@example.org' }), ['bob@example.net'], message());
    await t.deliver(entry({ origin: 'forward', mailFrom: 'alice@mailfleet.test' }), ['bob@example.net'], message());
    await t.deliver(entry({ origin: 'submission', mailFrom: 'alice@mailfleet.test' }), ['bob@example.net'], message());
    const senders = sink.messages.map((m) => m.mailFrom);
    expect(senders[0]).toMatch(/^SRS0=.*@fwd\.mailfleet\.test$/);
    const srs = await Srs.fromConfig({ domain: 'fwd.mailfleet.test', secretFile: join(dir, 'srs.secret'), maxAgeDays: 21 });
    expect(srs.reverse(senders[0]!)).toBe('carol@example.org');
    expect(senders.slice(1)).toEqual(['alice@mailfleet.test', 'alice@mailfleet.test']);
  });

  it('a missing secret file stops the transport at start, naming the field', async () => {
    await expect(SmtpOutbound.create(gatewaySettings({ srs: { domain: 'fwd.mailfleet.test', secretFile: join(dir, 'missing') } }))).rejects.toThrow(/outbound\.srs\.secretFile/);
  });
});
