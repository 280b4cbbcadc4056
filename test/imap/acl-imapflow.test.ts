import { ImapFlow } from 'imapflow';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { imapLogin, message } from '../helpers/imap';
import { startTestNode, type TestNode } from '../helpers/node';
import { ALICE, BOB } from '../helpers/users';

/**
 * Two users sharing a folder through a real client (RFC 4314 ACL, RFC 2342
 * Other Users namespace): alice grants bob rights on `Team` (raw SETACL:
 * imapflow has no ACL API), bob works in it with imapflow. carol's mailbox
 * is placed on another node: this node never opens it.
 */
const CAROL = { address: 'carol@example.com', password: 'carol-pw' };
const TEAM = 'Other Users/alice@example.com/Team';
let node: TestNode;

beforeAll(async () => {
  node = await startTestNode({ users: [ALICE, BOB, CAROL], owns: (address) => address !== CAROL.address });
});
afterAll(() => node?.dispose());

function bob(): ImapFlow {
  return new ImapFlow({ host: '127.0.0.1', port: node.imapPort, secure: false, auth: { user: BOB.address, pass: BOB.password }, logger: false, tls: { rejectUnauthorized: false } });
}

async function alice(command: string): Promise<string[]> {
  const c = await imapLogin(node.imapPort, ALICE.address, ALICE.password);
  try {
    return await c.command('a', command);
  } finally {
    c.close();
  }
}

describe('shared folder between alice and bob (imapflow)', () => {
  it('lr: bob lists, selects read-only and fetches; lrs: \\Seen works, \\Flagged (w) does not; revoke: gone', async () => {
    expect((await alice('CREATE Team')).at(-1)).toMatch(/^a OK/);
    const a = await imapLogin(node.imapPort, ALICE.address, ALICE.password);
    try {
      a.send(`p APPEND Team {${message('shared hello').length}+}`);
      a.write(message('shared hello'));
      a.write('\r\n');
      expect((await a.readUntil((l) => l.startsWith('p '))).at(-1)).toMatch(/^p OK/);
    } finally {
      a.close();
    }
    expect(await alice('SETACL Team bob@example.com lr')).toEqual(['a OK SETACL completed']);

    const c = bob();
    await c.connect();
    try {
      expect((await c.list()).map((m) => m.path)).toContain(TEAM);
      const box = await c.mailboxOpen(TEAM);
      expect(box.readOnly).toBe(true);
      expect(box.exists).toBe(1);
      const msg = await c.fetchOne('1', { envelope: true, flags: true });
      expect(msg && msg.envelope?.subject).toBe('shared hello');
      await c.mailboxClose();

      expect(await alice('SETACL Team bob@example.com lrs')).toEqual(['a OK SETACL completed']);
      const rw = await c.mailboxOpen(TEAM);
      expect(rw.readOnly).toBe(false);
      expect(await c.messageFlagsAdd('1', ['\\Seen'])).toBe(true);
      expect(await c.messageFlagsAdd('1', ['\\Flagged']).catch(() => false)).toBe(false);
      await c.mailboxClose();
      // What alice sees: bob's \Seen, not \Flagged.
      const fetched = (await alice('EXAMINE Team')).join('\n');
      expect(fetched).toContain('OK [READ-ONLY]');
      const a2 = await imapLogin(node.imapPort, ALICE.address, ALICE.password);
      try {
        await a2.command('s', 'EXAMINE Team');
        expect(await a2.command('f', 'FETCH 1 (FLAGS)')).toEqual(['* 1 FETCH (FLAGS (\\Seen))', 'f OK FETCH completed']);
      } finally {
        a2.close();
      }

      expect(await alice('DELETEACL Team bob@example.com')).toEqual(['a OK DELETEACL completed']);
      expect((await c.list()).map((m) => m.path)).not.toContain(TEAM);
      await expect(c.mailboxOpen(TEAM)).rejects.toThrow();
    } finally {
      await c.logout();
    }
  });

  it("a mailbox placed on another node is never opened here: NO [UNAVAILABLE] (DESIGN.md: one node serves a mailbox)", async () => {
    const b = await imapLogin(node.imapPort, BOB.address, BOB.password);
    try {
      expect(await b.command('x', 'SELECT "Other Users/carol@example.com/INBOX"')).toEqual([
        'x NO [UNAVAILABLE] Mailbox of carol@example.com is served by another node: shared folders work between users placed on the same node',
      ]);
    } finally {
      b.close();
    }
  });
});
