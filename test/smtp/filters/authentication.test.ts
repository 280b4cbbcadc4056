import { generateKeyPairSync } from 'node:crypto';
import { dkimSign, sealMessage } from 'mailauth';
import { describe, expect, it } from 'vitest';
import { applyHeaderEdits, authenticationFilter, runFilters, type AuthenticationFilterOptions, type HeaderEdit } from '../../../mail-runtime/smtp/filters';
import { dnsStub, silentResolver, type DnsRecords } from '../../helpers/dns-resolver-stub';
import { dataContext } from './fakes';

/**
 * SPF, DKIM, DMARC and ARC with mailauth against a DNS stub: messages are
 * DKIM-signed here with keys made here, so a signature verifies, a tampered
 * body fails, and DMARC's policy decides: p=reject is refused unless the
 * domain is allowlisted, p=quarantine goes to Junk.
 */
const HOST = 'mx.example.test';
const CLIENT_IP = '192.0.2.10'; // authorised by example.net's SPF record
const OTHER_IP = '198.51.100.7'; // not authorised by anyone

function rsaKey() {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return {
    privatePem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    dkimRecord: `v=DKIM1; k=rsa; p=${publicKey.export({ type: 'spki', format: 'der' }).toString('base64')}`,
  };
}
const netKey = rsaKey();
const listKey = rsaKey();

const records: DnsRecords = {
  'example.net': { TXT: [`v=spf1 ip4:${CLIENT_IP} -all`], A: ['192.0.2.1'] },
  'sel._domainkey.example.net': { TXT: [netKey.dkimRecord] },
  '_dmarc.example.net': { TXT: ['v=DMARC1; p=reject; rua=mailto:dmarc@example.net'] },
  'example.org': { TXT: [`v=spf1 ip4:${CLIENT_IP} -all`] },
  '_dmarc.example.org': { TXT: ['v=DMARC1; p=quarantine'] },
  'example.com': { TXT: [`v=spf1 ip4:${CLIENT_IP} -all`] },
  '_dmarc.example.com': { TXT: ['v=DMARC1; p=reject; pct=0'] },
  'lists.example.org': { TXT: ['v=spf1 -all'] },
  'arc._domainkey.lists.example.org': { TXT: [listKey.dkimRecord] },
};

const raw = (from: string, body = 'Shall we meet for lunch at noon on Thursday?') =>
  Buffer.from(
    `From: Sender <${from}>\r\nTo: alice@example.test\r\nSubject: lunch\r\nDate: Tue, 1 Dec 2026 10:00:00 +0000\r\nMessage-ID: <m1@example.net>\r\n\r\n${body}\r\n`,
  );

async function signed(message: Buffer): Promise<Buffer> {
  // mailauth 4.13 signs what `signatureData` lists (its typings suggest top-level fields, which it ignores).
  const { signatures, errors } = await dkimSign(message, {
    signatureData: [{ signingDomain: 'example.net', selector: 'sel', privateKey: netKey.privatePem }],
  } as Parameters<typeof dkimSign>[1]);
  expect(signatures).toMatch(/^DKIM-Signature: /);
  expect(errors).toEqual([]);
  return Buffer.concat([Buffer.from(signatures), message]);
}

function filter(over: Partial<AuthenticationFilterOptions> = {}) {
  return authenticationFilter({ hostname: HOST, allowlist: [], timeoutMs: 30_000, lookupTimeoutMs: 3_000, onError: 'tempfail', resolver: dnsStub(records), ...over });
}

async function check(message: Buffer, opts: { ip?: string; mailFrom?: string; filter?: Partial<AuthenticationFilterOptions> } = {}) {
  return runFilters(
    [filter(opts.filter)],
    dataContext(message, {
      session: { id: 'c1', listener: 'mx', remoteIp: opts.ip ?? CLIENT_IP, helo: 'mail.example.net', secure: false },
      envelope: { mailFrom: opts.mailFrom ?? 'sender@example.net', rcptTo: ['alice@example.test'] },
    }),
  );
}

const header = (edits: HeaderEdit[], name: string) =>
  edits.find((h): h is Extract<HeaderEdit, { op: 'add' }> => h.op === 'add' && h.name.toLowerCase() === name.toLowerCase());
const arOf = (edits: HeaderEdit[]) => header(edits, 'Authentication-Results')?.value.replace(/\r\n\s+/g, ' ') ?? '';

describe('DKIM (RFC 6376) and SPF (RFC 7208)', () => {
  it('a message signed here, from an SPF-authorised address: pass, pass, DMARC pass; Authentication-Results on top with our authserv-id', async () => {
    const r = await check(await signed(raw('sender@example.net')));
    expect(r.verdict).toEqual({ kind: 'continue' });
    const ar = arOf(r.headers);
    expect(ar.startsWith(`${HOST};`)).toBe(true);
    expect(ar).toMatch(/dkim=pass [^;]*header\.i=@example\.net header\.s=sel/);
    expect(ar).toMatch(/spf=pass [^;]*smtp\.mailfrom=sender@example\.net/);
    expect(ar).toMatch(/dmarc=pass/);
    expect(r.headers[0]).toMatchObject({ op: 'add', name: 'Received-SPF', index: 0 });
    expect(r.headers.at(-1)).toMatchObject({ op: 'add', name: 'Authentication-Results', index: 0 });
    expect(r.notes).toMatchObject({ 'data.authentication.spf': 'pass', 'data.authentication.dkim': 'pass', 'data.authentication.dmarc': 'pass' });
  });

  it('with our headers applied the signature still verifies (they go above it, outside what it signs)', async () => {
    const original = await signed(raw('sender@example.net'));
    const stored = applyHeaderEdits(original, (await check(original)).headers);
    expect(stored.toString().startsWith('Authentication-Results: mx.example.test;')).toBe(true);
    expect((await check(stored)).notes['data.authentication.dkim']).toBe('pass');
  });

  it('a tampered body fails DKIM (SPF still passes, so DMARC passes on SPF alignment)', async () => {
    const tampered = Buffer.from((await signed(raw('sender@example.net'))).toString().replace('at noon', 'at ten'));
    const r = await check(tampered);
    expect(arOf(r.headers)).toMatch(/dkim=(fail|neutral)/);
    expect(r.notes['data.authentication.dkim']).not.toBe('pass');
    expect(r.verdict).toEqual({ kind: 'continue' });
  });
});

describe('DMARC (RFC 7489)', () => {
  it('SPF fail, no signature, p=reject: 550 5.7.1', async () => {
    const r = await check(raw('sender@example.net'), { ip: OTHER_IP });
    expect(r.verdict).toEqual({ kind: 'reject', reply: { code: 550, enhanced: '5.7.1', text: expect.stringContaining('DMARC policy of example.net') } });
    expect(r.notes).toMatchObject({ 'data.authentication.spf': 'fail', 'data.authentication.dmarc': 'fail' });
  });

  it('the same from an allowlisted domain (or its subdomain entry) is delivered, with the failure in the header', async () => {
    for (const allowlist of [['example.net'], ['EXAMPLE.net']]) {
      const r = await check(raw('sender@example.net'), { ip: OTHER_IP, filter: { allowlist } });
      expect(r.verdict).toEqual({ kind: 'continue' });
      expect(r.folder).toBeUndefined();
      expect(arOf(r.headers)).toMatch(/dmarc=fail/);
      expect(r.notes['data.authentication.allowlisted']).toBe(true);
    }
  });

  it('a tampered signature does not rescue an SPF failure: refused', async () => {
    const tampered = Buffer.from((await signed(raw('sender@example.net'))).toString().replace('at noon', 'at ten'));
    const r = await check(tampered, { ip: OTHER_IP });
    expect(r.verdict.kind).toBe('reject');
  });

  it('a valid aligned signature rescues an SPF failure (a forwarder): delivered', async () => {
    const r = await check(await signed(raw('sender@example.net')), { ip: OTHER_IP });
    expect(r.verdict).toEqual({ kind: 'continue' });
    expect(arOf(r.headers)).toMatch(/spf=fail.*dmarc=pass/);
  });

  it('p=quarantine: delivered to Junk', async () => {
    const r = await check(raw('sender@example.org'), { ip: OTHER_IP, mailFrom: 'sender@example.org' });
    expect(r.verdict).toEqual({ kind: 'continue' });
    expect(r.folder).toBe('junk');
  });

  it('p=reject with pct=0: the next policy down (quarantine) applies (RFC 7489 §6.6.4)', async () => {
    const r = await check(raw('sender@example.com'), { ip: OTHER_IP, mailFrom: 'sender@example.com' });
    expect(r.verdict).toEqual({ kind: 'continue' });
    expect(r.folder).toBe('junk');
  });

  it('no DMARC record: nothing enforced', async () => {
    const r = await check(raw('someone@unknown.example'), { ip: OTHER_IP, mailFrom: 'someone@unknown.example' });
    expect(r.verdict).toEqual({ kind: 'continue' });
    expect(r.folder).toBeUndefined();
    expect(arOf(r.headers)).toMatch(/dmarc=none/);
  });
});

describe('ARC (RFC 8617)', () => {
  it('a message sealed by a mailing list verifies: arc=pass in the header', async () => {
    const original = await signed(raw('sender@example.net'));
    const seal = await sealMessage(original, {
      signingDomain: 'lists.example.org',
      selector: 'arc',
      privateKey: listKey.privatePem,
      authResults: 'lists.example.org; dkim=pass header.d=example.net; spf=pass smtp.mailfrom=example.net',
      cv: 'none',
    } as Parameters<typeof sealMessage>[1]);
    const r = await check(Buffer.concat([seal, original]), { ip: OTHER_IP, mailFrom: 'bounces@lists.example.org' });
    expect(arOf(r.headers)).toMatch(/arc=pass/);
    expect(r.notes['data.authentication.arc']).toBe('pass');
  });
});

describe('Authentication-Results a sender planted (RFC 8601 §5)', () => {
  it('fields claiming our authserv-id are removed, others kept', async () => {
    const planted = Buffer.concat([
      Buffer.from(`Authentication-Results: other.example; spf=pass smtp.mailfrom=example.net\r\nAuthentication-Results: ${HOST.toUpperCase()};\r\n dkim=pass header.d=example.net\r\n`),
      raw('sender@example.net'),
    ]);
    const r = await check(planted);
    expect(r.headers.filter((h) => h.op === 'change')).toEqual([{ op: 'change', name: 'Authentication-Results', occurrence: 2, value: null }]);
  });
});

describe('DNS that never answers', () => {
  // Issue 14: the lookups have their own budget (lookupTimeoutMs, at most 80 % of timeoutMs), so a dead resolver no
  // longer turns every message into the filter deadline's 451: the checks say temperror (RFC 8601 §2.7) and the mail goes on.
  it('the lookup budget ends first: accepted with spf=temperror and dmarc=temperror, whatever onError says', async () => {
    for (const onError of ['tempfail', 'accept'] as const) {
      const r = await check(raw('sender@example.net'), { filter: { resolver: silentResolver, timeoutMs: 30_000, lookupTimeoutMs: 200, onError } });
      expect(r.verdict).toEqual({ kind: 'continue' });
      expect(arOf(r.headers)).toMatch(/spf=temperror.*dmarc=temperror/);
      expect(r.notes).toMatchObject({ 'data.authentication.spf': 'temperror', 'data.authentication.dmarc': 'temperror' });
    }
  });

  it('a budget at or above the filter time-out is capped below it: still temperror, never the 451 of the deadline', async () => {
    const r = await check(raw('sender@example.net'), { filter: { resolver: silentResolver, timeoutMs: 3_000, lookupTimeoutMs: 60_000 } });
    expect(r.verdict).toEqual({ kind: 'continue' });
    expect(arOf(r.headers)).toMatch(/spf=temperror/);
  });
});
