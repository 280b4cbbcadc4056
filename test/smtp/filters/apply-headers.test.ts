import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { applyHeaderEdits, type HeaderEdit } from '../../../mail-runtime/smtp/filters';

/**
 * applyHeaderEdits: what a listener does with a chain result's header
 * edits before it queues the message. Table rows are edit lists and the
 * header they must produce; the body is never touched.
 */
const msg = [
  'Received: from a by b; Tue, 1 Dec 2026 10:00:00 +0000',
  'X-Spam-Status: No, score=-100',
  'Subject: hello',
  '  world',
  'X-Spam-Status: forged twice',
  'From: sender@example.net',
  '',
  'Body line: not a header',
  '',
].join('\r\n');
const header = (b: Buffer) => b.toString('utf8').split('\r\n\r\n')[0]!.split('\r\n');
const body = (b: Buffer) => b.toString('utf8').slice(b.toString('utf8').indexOf('\r\n\r\n'));

describe('edits in order', () => {
  it.each<[string, HeaderEdit[], string[]]>([
    [
      'add at the top, one above the other',
      [
        { op: 'add', name: 'Authentication-Results', value: 'mx.example.test; spf=pass', index: 0 },
        { op: 'add', name: 'X-Spam-Score', value: '1.00', index: 0 },
      ],
      ['X-Spam-Score: 1.00', 'Authentication-Results: mx.example.test; spf=pass', 'Received: from a by b; Tue, 1 Dec 2026 10:00:00 +0000'],
    ],
    ['add without an index: after the last field', [{ op: 'add', name: 'X-Last', value: 'yes' }], ['From: sender@example.net', 'X-Last: yes']],
    ['insert before the 2nd field', [{ op: 'add', name: 'X-Second', value: '2', index: 1 }], ['Received: from a by b; Tue, 1 Dec 2026 10:00:00 +0000', 'X-Second: 2', 'X-Spam-Status: No, score=-100']],
    [
      'delete both forged copies, highest first (as the filters emit them), case-insensitive',
      [
        { op: 'change', name: 'x-spam-status', occurrence: 2, value: null },
        { op: 'change', name: 'X-Spam-Status', occurrence: 1, value: null },
      ],
      ['Received: from a by b; Tue, 1 Dec 2026 10:00:00 +0000', 'Subject: hello', '  world', 'From: sender@example.net'],
    ],
    ['change a folded field: its continuation goes with it', [{ op: 'change', name: 'Subject', occurrence: 1, value: 'rewritten' }], ['X-Spam-Status: No, score=-100', 'Subject: rewritten', 'X-Spam-Status: forged twice']],
    ['change an occurrence that is not there: added (smfi_chgheader)', [{ op: 'change', name: 'X-New', occurrence: 1, value: 'v' }], ['From: sender@example.net', 'X-New: v']],
    ['delete an occurrence that is not there: nothing', [{ op: 'change', name: 'X-Spam-Status', occurrence: 3, value: null }], ['X-Spam-Status: forged twice', 'From: sender@example.net']],
    ['a folded UTF-8 value', [{ op: 'add', name: 'X-Note', value: 'Grüße,\r\n\taus Köln' }], ['From: sender@example.net', 'X-Note: Grüße,', '\taus Köln']],
  ])('%s', (_, edits, expected) => {
    const out = applyHeaderEdits(Buffer.from(msg), edits);
    const h = header(out);
    // The expected lines appear, consecutively.
    const at = h.indexOf(expected[0]!);
    expect(at, h.join('\n')).toBeGreaterThanOrEqual(0);
    expect(h.slice(at, at + expected.length)).toEqual(expected);
    expect(body(out)).toBe(body(Buffer.from(msg)));
  });

  it('a message that is all header, without a final line break, still gets well-formed fields', () => {
    const out = applyHeaderEdits(Buffer.from('Subject: x'), [{ op: 'add', name: 'X-A', value: '1' }]);
    expect(out.toString()).toBe('Subject: x\r\nX-A: 1\r\n');
  });

  it('no edits: the same bytes, whatever they are', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (a) => {
        const b = Buffer.from(a);
        expect(applyHeaderEdits(b, []).equals(b)).toBe(true);
      }),
    );
  });

  it('edits never touch the body', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 200 }), fc.stringMatching(/^[A-Za-z-]{1,10}$/), (bodyText, name) => {
        const m = Buffer.from(`Subject: s\r\n\r\n${bodyText}`, 'utf8');
        const out = applyHeaderEdits(m, [
          { op: 'add', name, value: 'v', index: 0 },
          { op: 'change', name: 'Subject', occurrence: 1, value: null },
        ]);
        expect(out.toString('utf8').endsWith(`\r\n\r\n${bodyText}`)).toBe(true);
      }),
    );
  });
});
