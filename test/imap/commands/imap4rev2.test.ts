/**
 * IMAP4rev2 (RFC 9051) on a real node over a raw socket. The node offers
 * both revisions (Appendix A): IMAP4rev1 behaviour until the client sends
 * ENABLE IMAP4rev2, then the changes of Appendix E.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { imapAppend, imapLogin, message } from '../../helpers/imap';
import type { LineClient } from '../../helpers/line-client';
import { startTestNode, type TestNode } from '../../helpers/node';
import { ALICE } from '../../helpers/users';

let node: TestNode;
beforeAll(async () => {
  node = await startTestNode();
});
afterAll(() => node.dispose());

async function rev2(): Promise<LineClient> {
  const c = await imapLogin(node.imapPort, ALICE.address, ALICE.password);
  expect(await c.command('e', 'ENABLE IMAP4rev2')).toEqual(['* ENABLED IMAP4rev2', 'e OK ENABLE completed']);
  return c;
}

/** SELECT's untagged responses without the lines whose values change per run. */
function stable(lines: string[]): string[] {
  return lines.filter((l) => !/\[(UIDVALIDITY|UIDNEXT|MAILBOXID|HIGHESTMODSEQ) /.test(l));
}

describe('RFC 9051 IMAP4rev2 next to IMAP4rev1 (Appendix A)', () => {
  it('CAPABILITY lists both; ENABLE IMAP4rev2 answers ENABLED (§6.3.1), once', async () => {
    const c = await imapLogin(node.imapPort, ALICE.address, ALICE.password);
    try {
      expect((await c.command('c', 'CAPABILITY'))[0]).toMatch(/^\* CAPABILITY IMAP4rev1 IMAP4rev2 /);
      expect(await c.command('e', 'ENABLE imap4REV2')).toEqual(['* ENABLED IMAP4rev2', 'e OK ENABLE completed']);
      expect(await c.command('e', 'ENABLE IMAP4rev2')).toEqual(['* ENABLED', 'e OK ENABLE completed']);
    } finally {
      c.close();
    }
  });

  it('without ENABLE IMAP4rev2 the IMAP4rev1 answers stay: RECENT, \\Recent, SEARCH', async () => {
    const c = await imapLogin(node.imapPort, ALICE.address, ALICE.password);
    try {
      await c.command('c', 'CREATE rev1');
      await imapAppend(c, 'a', 'rev1', message('r1'));
      const sel = await c.command('s', 'SELECT rev1');
      expect(sel).toContain('* 1 RECENT');
      expect(sel.some((l) => l.startsWith('* LIST'))).toBe(false);
      expect(await c.command('f', 'FETCH 1 FLAGS')).toEqual(['* 1 FETCH (FLAGS (\\Recent))', 'f OK FETCH completed']);
      expect(await c.command('q', 'SEARCH ALL')).toEqual(['* SEARCH 1', 'q OK SEARCH completed']);
    } finally {
      c.close();
    }
  });
});

describe('RFC 9051 behaviour after ENABLE IMAP4rev2 (Appendix E)', () => {
  it('§6.3.2 (items 9–12): SELECT sends LIST, no RECENT and no UNSEEN code; a second SELECT starts with OK [CLOSED]; no \\Recent in FLAGS', async () => {
    const c = await rev2();
    try {
      await c.command('c', 'CREATE "new/box"');
      await imapAppend(c, 'a', 'new/box', message('n1'));
      await imapAppend(c, 'a', 'new/box', message('n2'), '(\\Seen)');
      expect(stable(await c.command('s', 'SELECT new/box'))).toEqual([
        '* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)',
        '* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft \\*)] Flags permitted',
        '* 2 EXISTS',
        '* LIST (\\HasNoChildren) "/" "new/box"',
        's OK [READ-WRITE] SELECT completed',
      ]);
      expect(await c.command('f', 'FETCH 1:2 FLAGS')).toEqual(['* 1 FETCH (FLAGS ())', '* 2 FETCH (FLAGS (\\Seen))', 'f OK FETCH completed']);
      // New mail while selected: EXISTS, no RECENT (item 12).
      const other = await imapLogin(node.imapPort, ALICE.address, ALICE.password);
      await imapAppend(other, 'a', 'new/box', message('n3'));
      other.close();
      expect(await c.command('n', 'NOOP')).toEqual(['* 3 EXISTS', 'n OK NOOP completed']);
      await c.command('c', 'CREATE next');
      const again = await c.command('x', 'EXAMINE next');
      expect(again[0]).toBe('* OK [CLOSED] Previous mailbox closed');
      expect(again).toContain('* LIST (\\HasNoChildren) "/" "next"');
    } finally {
      c.close();
    }
  });

  it('§6.4.4 (item 4): SEARCH and UID SEARCH answer ESEARCH; RETURN options still apply', async () => {
    const c = await rev2();
    try {
      await c.command('c', 'CREATE searched');
      for (const s of ['s1', 's2', 's3']) await imapAppend(c, 'a', 'searched', message(s));
      await c.command('s', 'SELECT searched');
      expect(await c.command('q', 'SEARCH ALL')).toEqual(['* ESEARCH (TAG "q") ALL 1:3', 'q OK SEARCH completed']);
      expect(await c.command('u', 'UID SEARCH SUBJECT s2')).toEqual(['* ESEARCH (TAG "u") UID ALL 2', 'u OK SEARCH completed']);
      expect(await c.command('n', 'SEARCH SUBJECT nothing')).toEqual(['* ESEARCH (TAG "n")', 'n OK SEARCH completed']);
      expect(await c.command('r', 'SEARCH RETURN (COUNT) ALL')).toEqual(['* ESEARCH (TAG "r") COUNT 3', 'r OK SEARCH completed']);
    } finally {
      c.close();
    }
  });

  it('§6.3.11 (item 3): STATUS DELETED and SIZE', async () => {
    const c = await rev2();
    try {
      await c.command('c', 'CREATE counted');
      const one = message('d1');
      await imapAppend(c, 'a', 'counted', one, '(\\Deleted)');
      await imapAppend(c, 'a', 'counted', message('d2'));
      const size = Buffer.byteLength(one) + Buffer.byteLength(message('d2'));
      expect(await c.command('s', 'STATUS counted (MESSAGES DELETED SIZE)')).toEqual([
        `* STATUS "counted" (MESSAGES 2 DELETED 1 SIZE ${size})`,
        's OK STATUS completed',
      ]);
    } finally {
      c.close();
    }
  });

  it('§5.1 (item 16): mailbox names are UTF-8 both ways (modified UTF-7 only for IMAP4rev1 sessions, Appendix A.1)', async () => {
    const c = await rev2();
    const v1 = await imapLogin(node.imapPort, ALICE.address, ALICE.password);
    try {
      // "Entwürfe & Co" as UTF-8: the & is a plain character now.
      const bytes = Buffer.from('Entwürfe & Co');
      // LineClient reads bytes as latin1: compare the UTF-8 bytes that way.
      const name = bytes.toString('latin1');
      c.write(`c CREATE {${bytes.length}+}\r\n`);
      c.write(Buffer.concat([bytes, Buffer.from('\r\n')]));
      expect((await c.readUntil((l) => l.startsWith('c ')))[0]).toMatch(/^c OK \[MAILBOXID \(/);
      // An IMAP4rev1 session sees the same mailbox in modified UTF-7 (RFC 3501 §5.1.3).
      expect(await v1.command('l', 'LIST "" Entw*')).toEqual(['* LIST (\\HasNoChildren) "/" "Entw&APw-rfe &- Co"', 'l OK LIST completed']);
      // The IMAP4rev2 session gets UTF-8 back (as a literal: 8-bit text is never quoted, Appendix A).
      expect(await c.command('l', 'LIST "" Entw*')).toEqual([`* LIST (\\HasNoChildren) "/" {${bytes.length}}`, name, 'l OK LIST completed']);
      // A denormalized name (u + combining diaeresis) opens the same mailbox (§5.1: NFC), and SELECT says so with OLDNAME (§6.3.2).
      const nfd = Buffer.from('Entwu\u0308rfe & Co');
      c.write(`s SELECT {${nfd.length}+}\r\n`);
      c.write(Buffer.concat([nfd, Buffer.from('\r\n')]));
      const sel = await c.readUntil((l) => l.startsWith('s '));
      expect(sel[sel.length - 1]).toBe('s OK [READ-WRITE] SELECT completed');
      expect(sel.join('\n')).toContain(`* LIST (\\HasNoChildren) "/" {${bytes.length}}\n${name} ("OLDNAME" ({${nfd.length}}\n${nfd.toString('latin1')}))`);
    } finally {
      c.close();
      v1.close();
    }
  });
});
