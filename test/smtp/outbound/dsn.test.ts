import { simpleParser } from 'mailparser';
import { describe, expect, it } from 'vitest';
import { buildDelayDsn, buildDsn } from '../../../mail-runtime/smtp/outbound';
import { entry, message } from './settings';

const opts = { reportingMta: 'gw.mailfleet.test', arrivalDate: new Date('2026-01-01T00:00:00Z'), now: new Date('2026-01-06T00:00:00Z') };

describe('DSN (RFC 3464 / RFC 3461 / RFC 6522)', () => {
  it('never answers the null sender (RFC 3461 §6.2, RFC 5321 §4.5.5)', () => {
    expect(buildDsn(entry({ mailFrom: '' }), [{ address: 'x@example.net', lastReply: '550 5.1.1 no' }], message(), opts)).toBeNull();
    expect(buildDelayDsn(entry({ mailFrom: '' }), [{ address: 'x@example.net' }], message(), { ...opts, willRetryUntil: new Date() })).toBeNull();
  });

  it('returns the whole message by default and for RET=FULL, as message/rfc822', async () => {
    for (const dsn of [undefined, { ret: 'FULL' as const }]) {
      const d = buildDsn(entry({ dsn }), [{ address: 'x@example.net', lastReply: '550 5.1.1 no' }], message('whole'), opts)!;
      const parsed = await simpleParser(d.message);
      const returned = parsed.attachments.find((a) => a.contentType === 'message/rfc822');
      expect(returned?.content.toString()).toContain('Hello Bob');
      expect(parsed.text).not.toMatch(/Original-Envelope-Id/);
    }
  });

  it('an expired entry reports its last temporary reply, or 4.4.7 when it has none', async () => {
    const d = buildDsn(entry(), [{ address: 'a@example.net', lastReply: '451 4.4.1 connection refused' }, { address: 'b@example.net' }], message(), { ...opts, expired: true })!;
    const text = (await simpleParser(d.message)).text ?? '';
    const blocks = text.split(/\n\n/).filter((b) => b.includes('Final-Recipient'));
    expect(blocks[0]).toMatch(/Action: failed\nStatus: 4\.4\.1\nDiagnostic-Code: smtp; 451 4\.4\.1 connection refused/);
    expect(blocks[1]).toMatch(/Final-Recipient: rfc822; b@example\.net\nAction: failed\nStatus: 4\.4\.7/);
    expect(text).toMatch(/could not be delivered in the time allowed/);
  });

  it('a delay warning says delayed, until when, and returns headers only', async () => {
    const until = new Date('2026-01-06T00:00:00Z');
    const d = buildDelayDsn(entry(), [{ address: 'a@example.net', lastReply: '451 4.3.0 try later' }], message('slow'), { ...opts, willRetryUntil: until })!;
    const parsed = await simpleParser(d.message);
    expect(parsed.subject).toBe('Delayed Mail (still being retried)');
    expect(parsed.text).toMatch(/^Action: delayed$/m);
    expect(parsed.text).toMatch(/^Status: 4\.3\.0$/m);
    expect(parsed.text).toMatch(/^Will-Retry-Until: Tue, 06 Jan 2026 00:00:00 \+0000$/m);
    const headers = parsed.attachments.find((a) => a.contentType === 'text/rfc822-headers');
    expect(headers?.content.toString()).toContain('Subject: slow');
    expect(headers?.content.toString()).not.toContain('Hello Bob');
  });
});
