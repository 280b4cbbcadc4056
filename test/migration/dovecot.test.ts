import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ImapFlow } from 'imapflow';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { message } from '../helpers/imap';
import { startTestNode, type TestNode } from '../helpers/node';
import { chownMail, startDovecot, type TestDovecot } from '../helpers/dovecot';
import { ALICE } from '../helpers/users';

/**
 * Migration in and out with the real Dovecot (2.3, Debian dovecot-imapd):
 * a mailbox Dovecot created is adopted by a mailfleet node with the same
 * UIDVALIDITY, UIDs, flags and keywords (clients do not resync), and a
 * mailbox the node changed is served by Dovecot again with the same UIDs and
 * flags. The same Maildir++ tree serves both, one after the other, as in a
 * real migration: Dovecot's home is the node's `<storage>/mail/<domain>/<local>`.
 */
let dir: string;
let mailRoot: string;
let dovecot: TestDovecot | undefined;
let node: TestNode | undefined;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mf-migration-'));
  mailRoot = join(dir, 'storage', 'mail');
});
afterAll(async () => {
  await node?.dispose();
  await dovecot?.dispose();
  await rm(dir, { recursive: true, force: true });
});

function client(port: number): ImapFlow {
  return new ImapFlow({ host: '127.0.0.1', port, secure: false, auth: { user: ALICE.address, pass: ALICE.password }, logger: false, tls: { rejectUnauthorized: false } });
}

async function withClient<T>(port: number, fn: (c: ImapFlow) => Promise<T>): Promise<T> {
  const c = client(port);
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.logout();
  }
}

interface FolderView {
  uidValidity: string;
  uidNext: number;
  messages: { uid: number; flags: string[]; size: number; sha: string }[];
}

/** What a client caches about a folder: UIDVALIDITY, UIDNEXT, and per UID its flags, size and body. */
async function view(c: ImapFlow, folder: string): Promise<FolderView> {
  // EXAMINE: looking must not change anything (no \Recent claimed, nothing written).
  const box = await c.mailboxOpen(folder, { readOnly: true });
  const messages: FolderView['messages'] = [];
  if (box.exists > 0) {
    for await (const m of c.fetch('1:*', { uid: true, flags: true, size: true, source: true })) {
      messages.push({
        uid: m.uid,
        flags: [...(m.flags ?? [])].filter((f) => f !== '\\Recent').sort(),
        size: m.size ?? -1,
        sha: createHash('sha256').update(m.source ?? Buffer.alloc(0)).digest('hex'),
      });
    }
  }
  await c.mailboxClose();
  return { uidValidity: String(box.uidValidity), uidNext: box.uidNext, messages: messages.sort((a, b) => a.uid - b.uid) };
}

const FOLDERS = ['INBOX', 'Projects/2024'];
let fromDovecot: Record<string, FolderView>;
let fromNode: Record<string, FolderView>;

describe('Dovecot → mailfleet: adoption keeps UIDVALIDITY, UIDs, flags and keywords', () => {
  it('Dovecot creates a mailbox with messages, flags and keywords', { timeout: 120_000 }, async () => {
    dovecot = await startDovecot({ mailRoot, users: [ALICE] });
    await withClient(dovecot.port, async (c) => {
      for (let i = 1; i <= 6; i++) {
        const flags = [['\\Seen'], ['\\Seen', '$Forwarded'], ['\\Flagged', 'Work'], [], ['\\Answered', '\\Seen', 'Work', '$Label1'], ['\\Draft']][i - 1];
        await c.append('INBOX', message(`dovecot ${i}`, `body of message ${i}\r\nsecond line\r\n`), flags, new Date(Date.UTC(2023, 0, i, 12)));
      }
      await c.mailboxCreate('Projects/2024');
      await c.append('Projects/2024', message('project'), ['Important', '\\Seen']);
      await c.append('Projects/2024', message('project 2'), []);
      await c.mailboxOpen('INBOX');
      // Flags changed after delivery (file renames), and a gap in the UIDs.
      await c.messageFlagsAdd('4', ['\\Flagged', 'Later'], { uid: true });
      await c.messageFlagsRemove('1', ['\\Seen'], { uid: true });
      await c.messageDelete('3', { uid: true });
      await c.mailboxClose();
      fromDovecot = {};
      for (const f of FOLDERS) fromDovecot[f] = await view(c, f);
    });
    await dovecot.stop();
    expect(fromDovecot.INBOX.messages.map((m) => m.uid)).toEqual([1, 2, 4, 5, 6]);
    expect(fromDovecot.INBOX.uidNext).toBe(7);
    expect(fromDovecot.INBOX.messages.find((m) => m.uid === 5)!.flags).toEqual(['$Label1', 'Work', '\\Answered', '\\Seen']);
    // Dovecot stored bare LF (its default): the node must serve the same bytes and sizes it did.
    const uidlist = await readFile(join(mailRoot, 'example.com', 'alice', 'dovecot-uidlist'), 'utf8');
    expect(uidlist).toMatch(/^3 V\d+ N\d+ G[0-9a-f]{32}\n/);
  });

  it('a mailfleet node adopts the tree and serves the same UIDVALIDITY, UIDNEXT, UIDs, flags, keywords, sizes and bytes', { timeout: 120_000 }, async () => {
    node = await startTestNode({ dir, users: [ALICE] });
    const seen: Record<string, FolderView> = {};
    await withClient(node.imapPort, async (c) => {
      for (const f of FOLDERS) seen[f] = await view(c, f);
    });
    expect(seen).toEqual(fromDovecot);
  });
});

describe('mailfleet → Dovecot: Dovecot reads the files the node keeps', () => {
  it('the node changes the mailbox; Dovecot then serves it with the same UIDs, flags and keywords', { timeout: 120_000 }, async () => {
    await withClient(node!.imapPort, async (c) => {
      await c.append('INBOX', message('from mailfleet', 'new body\r\n'), ['\\Flagged', 'NewKeyword']);
      await c.append('INBOX', message('from mailfleet 2'), []);
      await c.append('INBOX', message('from mailfleet 3'), ['\\Seen']);
      await c.mailboxOpen('INBOX');
      // A gap among the new UIDs: only the uidlist can tell Dovecot that the last file is 9, not 8.
      await c.messageDelete('8', { uid: true });
      await c.messageFlagsAdd('1', ['\\Seen', 'Work'], { uid: true });
      await c.messageFlagsRemove('2', ['$Forwarded'], { uid: true });
      await c.messageFlagsSet('6', ['\\Draft', 'Later'], { uid: true });
      await c.messageDelete('5', { uid: true });
      await c.messageMove('4', 'Projects/2024', { uid: true });
      await c.mailboxClose();
      fromNode = {};
      for (const f of FOLDERS) fromNode[f] = await view(c, f);
    });
    await node!.dispose();
    node = undefined;
    expect(fromNode.INBOX.messages.map((m) => m.uid)).toEqual([1, 2, 6, 7, 9]);
    expect(fromNode.INBOX.uidNext).toBe(10);
    expect(fromNode.INBOX.messages.find((m) => m.uid === 7)!.flags).toEqual(['NewKeyword', '\\Flagged']);
    expect(fromNode['Projects/2024'].messages.map((m) => m.uid)).toEqual([1, 2, 3]);

    await chownMail(mailRoot);
    dovecot = await startDovecot({ mailRoot, users: [ALICE] });
    const seen: Record<string, FolderView> = {};
    await withClient(dovecot.port, async (c) => {
      for (const f of FOLDERS) seen[f] = await view(c, f);
    });
    expect(seen).toEqual(fromNode);
    expect(dovecot.log()).not.toMatch(/Error|Broken|Panic/i);
  });
});
