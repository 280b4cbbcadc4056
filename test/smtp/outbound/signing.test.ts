import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { authenticate } from 'mailauth';
import { dkimVerify } from 'mailauth/lib/dkim/verify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SmtpOutbound } from '../../../mail-runtime/smtp/outbound';
import { startSink, type Sink } from '../../helpers/smtp-sink';
import { entry, gatewaySettings, message } from './settings';

/** DKIM signing (RFC 6376) and ARC sealing (RFC 8617) as a receiving MTA would verify them, with mailauth and a stub resolver. */
let sink: Sink;
let dir: string;
const keys: Record<string, { file: string; txt: string }> = {};

function key(name: string): { file: string; txt: string } {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const file = join(dir, `${name}.pem`);
  writeFileSync(file, privateKey.export({ type: 'pkcs8', format: 'pem' }));
  const p = publicKey.export({ type: 'spki', format: 'der' }).toString('base64');
  return { file, txt: `v=DKIM1; k=rsa; p=${p}` };
}

/** What the receiving side's DNS says: the public keys under <selector>._domainkey.<domain>, nothing else. */
const published = new Map<string, string>();
const resolver = async (name: string, type: string) => {
  const txt = type === 'TXT' ? published.get(name.toLowerCase()) : undefined;
  if (!txt) throw Object.assign(new Error(`no ${type} for ${name}`), { code: 'ENOTFOUND' });
  return [[txt]];
};

beforeAll(async () => {
  sink = await startSink();
  dir = mkdtempSync(join(tmpdir(), 'mf-dkim-'));
  keys.own = key('own');
  keys.hosted = key('hosted');
  keys.arc = key('arc');
  published.set('s1._domainkey.brand.example', keys.own.txt);
  published.set('cluster._domainkey.mailfleet.test', keys.hosted.txt);
  published.set('arc1._domainkey.mailfleet.test', keys.arc.txt);
});
afterAll(() => sink.close());

async function deliverVia(settings: ReturnType<typeof gatewaySettings>, e: ReturnType<typeof entry>, msg: Buffer): Promise<Buffer> {
  const t = await SmtpOutbound.create(settings);
  const before = sink.messages.length;
  const res = await t.deliver(e, ['bob@example.net'], msg);
  expect(res[0]!.status).toBe('delivered');
  return sink.messages[before]!.data;
}

describe('DKIM signing with the sending domain’s key', () => {
  const settings = () =>
    gatewaySettings(
      { routes: { 'example.net': `127.0.0.1:${sink.port}` }, dkim: { 'brand.example': { selector: 's1', keyFile: keys.own!.file } } },
      { hostedDomains: ['mailfleet.test', 'brand.example'], filters: { dkim: { selector: 'cluster', keyFile: keys.hosted!.file } } },
    );

  it('signs a submission relaxed/relaxed with the From domain’s own key, and the signature verifies', async () => {
    const got = await deliverVia(settings(), entry({ mailFrom: 'ceo@brand.example' }), message('signed', 'CEO <ceo@brand.example>'));
    const sig = got.toString().split('\r\n')[0]!;
    expect(sig).toMatch(/^DKIM-Signature: /);
    expect(got.toString()).toMatch(/c=relaxed\/relaxed/);
    const v = await dkimVerify(got, { resolver });
    expect(v.results[0]!.status.result).toBe('pass');
    expect(v.results[0]!.signingDomain).toBe('brand.example');
    // The check can fail: a changed body breaks it.
    const tampered = Buffer.from(got.toString().replace('Hello Bob', 'Hello Eve'));
    expect((await dkimVerify(tampered, { resolver })).results[0]!.status.result).toBe('neutral');
  });

  it('signs other hosted domains with filters.dkim, and does not sign relayed (mx) mail or foreign From domains', async () => {
    const hosted = await deliverVia(settings(), entry(), message('hosted'));
    const v = await dkimVerify(hosted, { resolver });
    expect(v.results[0]!.status.result).toBe('pass');
    expect(v.results[0]!.signingDomain).toBe('mailfleet.test');
    const relayed = await deliverVia(settings(), entry({ origin: 'mx' }), message('relayed'));
    expect(relayed.toString()).not.toMatch(/DKIM-Signature/);
    const foreign = await deliverVia(settings(), entry(), message('foreign', 'Someone <x@elsewhere.example>'));
    expect(foreign.toString()).not.toMatch(/DKIM-Signature/);
  });

  it('keys from the cluster settings (applied live) come before the configured ones; a bad one changes nothing and names its domain; cleared, the configured keys again', async () => {
    const t = await SmtpOutbound.create(settings());
    const sent = async (name: string) => {
      const before = sink.messages.length;
      expect((await t.deliver(entry({ mailFrom: 'ceo@brand.example' }), ['bob@example.net'], message(name, 'CEO <ceo@brand.example>')))[0]!.status).toBe('delivered');
      return (await dkimVerify(sink.messages[before]!.data, { resolver })).results[0]!;
    };
    keys.rotated = key('rotated');
    published.set('s2._domainkey.brand.example', keys.rotated.txt);
    const rotatedPem = readFileSync(keys.rotated.file, 'utf8');
    t.setClusterDkimKeys({ 'brand.example': { selector: 's2', privateKeyPem: rotatedPem } });
    const live = await sent('live');
    expect(live.status.result).toBe('pass');
    expect(live.selector).toBe('s2');
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    expect(() => t.setClusterDkimKeys({ 'brand.example': { selector: 's3', privateKeyPem: ec } })).toThrow(/dkim\["brand\.example"\].*RSA or Ed25519|RSA or Ed25519.*dkim\["brand\.example"\]/);
    expect((await sent('unchanged')).selector).toBe('s2');
    t.setClusterDkimKeys(undefined);
    expect((await sent('configured')).selector).toBe('s1');
  });

  it('an unreadable key file stops the transport at start, naming the field', async () => {
    await expect(SmtpOutbound.create(gatewaySettings({ dkim: { 'brand.example': { selector: 's1', keyFile: join(dir, 'nope.pem') } } }))).rejects.toThrow(/outbound\.dkim\["brand\.example"\]\.keyFile/);
  });
});

describe('ARC sealing of forwarded mail', () => {
  it('seals with our Authentication-Results, and the next hop finds the chain valid', async () => {
    const settings = gatewaySettings({ routes: { 'example.net': `127.0.0.1:${sink.port}` }, arc: { domain: 'mailfleet.test', selector: 'arc1', keyFile: keys.arc!.file } });
    const original = Buffer.concat([Buffer.from('Authentication-Results: gw.mailfleet.test; spf=pass smtp.mailfrom=example.org; dkim=none\r\n'), message('forwarded', 'Carol <carol@example.org>')]);
    const got = await deliverVia(settings, entry({ origin: 'forward', mailFrom: 'carol@example.org' }), original);
    const text = got.toString();
    expect(text).toMatch(/^ARC-Seal: i=1; .*cv=none/m);
    expect(text).toMatch(/^ARC-Authentication-Results: i=1; gw\.mailfleet\.test; spf=pass smtp\.mailfrom=example\.org; dkim=none/m);
    const res = await authenticate(got, { ip: '127.0.0.1', helo: 'gw.mailfleet.test', sender: 'carol@example.org', mta: 'next.example', resolver, disableBimi: true });
    expect(res.arc && res.arc.status.result).toBe('pass');
    // Not sealed when the transport is not configured for ARC.
    const plain = await deliverVia(gatewaySettings({ routes: { 'example.net': `127.0.0.1:${sink.port}` } }), entry({ origin: 'forward' }), original);
    expect(plain.toString()).not.toMatch(/ARC-Seal/);
  });
});
