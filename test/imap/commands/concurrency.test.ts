import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { LineClient } from '../../helpers/line-client';
import { imapAppend, imapLogin, message } from '../../helpers/imap';
import { startTestNode, type TestNode } from '../../helpers/node';
import { ALICE } from '../../helpers/users';

/**
 * Two sessions on one mailbox (RFC 3501 §5.2, §7.4.1; RFC 2177 IDLE): what
 * one does reaches the other as untagged responses at its next command, or
 * at once while it idles.
 */
let node: TestNode;
const open: LineClient[] = [];
beforeAll(async () => {
  node = await startTestNode();
});
afterAll(() => node.dispose());
afterEach(() => {
  for (const c of open.splice(0)) c.close();
});

async function session(folder: string): Promise<LineClient> {
  const c = await imapLogin(node.imapPort, ALICE.address, ALICE.password);
  open.push(c);
  const sel = await c.command('s', `SELECT ${folder}`);
  expect(sel[sel.length - 1]).toBe('s OK [READ-WRITE] SELECT completed');
  return c;
}

describe('two sessions on one mailbox', () => {
  it('new mail, flag changes and expunges reach the other session at its next command', async () => {
    const setup = await imapLogin(node.imapPort, ALICE.address, ALICE.password);
    open.push(setup);
    await setup.command('c', 'CREATE Team');
    await imapAppend(setup, 'a', 'Team', message('first'));
    const a = await session('Team');
    const b = await session('Team');

    // B appends: A sees EXISTS on NOOP.
    await imapAppend(b, 'b1', 'Team', message('second'));
    expect(await a.command('a1', 'NOOP')).toEqual(['* 2 EXISTS', 'a1 OK NOOP completed']);
    expect(await a.command('a2', 'NOOP')).toEqual(['a2 OK NOOP completed']);

    // B changes flags: A sees an unsolicited FETCH with UID.
    expect(await b.command('b2', 'STORE 1 +FLAGS (\\Flagged)')).toEqual(['* 1 FETCH (FLAGS (\\Flagged))', 'b2 OK STORE completed']);
    // A selected first, so "first" is \Recent for A only (RFC 3501 §2.3.2); B's own reply has no \Recent.
    expect(await a.command('a3', 'NOOP')).toEqual(['* 1 FETCH (FLAGS (\\Flagged \\Recent) UID 1)', 'a3 OK NOOP completed']);

    // B expunges message 1: A must not get EXPUNGE during FETCH (§7.4.1), only afterwards.
    await b.command('b3', 'STORE 1 +FLAGS.SILENT (\\Deleted)');
    expect(await b.command('b4', 'EXPUNGE')).toEqual(['* 1 EXPUNGE', 'b4 OK EXPUNGE completed']);
    const during = await a.command('a4', 'FETCH 2 (UID)');
    // The flag change of the vanished message is not reported: its flags are gone with it.
    expect(during).toEqual(['* 2 FETCH (UID 2)', 'a4 OK FETCH completed']);
    expect(await a.command('a5', 'NOOP')).toEqual(['* 1 EXPUNGE', 'a5 OK NOOP completed']);
    expect(await a.command('a6', 'FETCH 1 (UID)')).toEqual(['* 1 FETCH (UID 2)', 'a6 OK FETCH completed']);
    // UID commands may carry EXPUNGE responses.
    await b.command('b5', 'STORE 1 +FLAGS.SILENT (\\Deleted)');
    await b.command('b6', 'EXPUNGE');
    expect(await a.command('a7', 'UID FETCH 1:* (UID)')).toEqual(['* 1 EXPUNGE', 'a7 OK FETCH completed']);
  });

  it('IDLE pushes new mail and expunges without the client asking (RFC 2177)', async () => {
    const setup = await imapLogin(node.imapPort, ALICE.address, ALICE.password);
    open.push(setup);
    await setup.command('c', 'CREATE Idle');
    const a = await session('Idle');
    const b = await session('Idle');
    a.send('i IDLE');
    expect(await a.readLine()).toBe('+ idling');
    await imapAppend(b, 'b1', 'Idle', message('pushed'));
    expect(await a.readLine()).toBe('* 1 EXISTS');
    await b.command('b2', 'STORE 1 +FLAGS.SILENT (\\Deleted)');
    expect(await a.readLine()).toBe('* 1 FETCH (FLAGS (\\Deleted) UID 1)');
    await b.command('b3', 'EXPUNGE');
    expect(await a.readLine()).toBe('* 1 EXPUNGE');
    a.send('DONE');
    expect(await a.readLine()).toBe('i OK IDLE terminated');
    expect(await a.command('n', 'NOOP')).toEqual(['n OK NOOP completed']);
  });

  it('IDLE ended by something other than DONE is a BAD', async () => {
    const a = await session('INBOX');
    a.send('i IDLE');
    expect(await a.readLine()).toBe('+ idling');
    a.send('NOOP');
    expect(await a.readLine()).toBe('i BAD Expected DONE');
  });

  it('deleting the mailbox another session has selected ends that session with BYE', async () => {
    const setup = await imapLogin(node.imapPort, ALICE.address, ALICE.password);
    open.push(setup);
    await setup.command('c', 'CREATE Doomed');
    const a = await session('Doomed');
    expect(await setup.command('d', 'DELETE Doomed')).toEqual(['d OK DELETE completed']);
    a.send('a1 NOOP');
    expect(await a.readLine()).toBe('* BYE [UNAVAILABLE] Selected mailbox was deleted');
    await a.waitClosed();
  });

  it('an APPEND in the selected mailbox is announced before its own OK', async () => {
    const a = await session('INBOX');
    const before = await a.command('f', 'FETCH 1:* (UID)');
    const count = before.length - 1;
    const lines = await imapAppend(a, 'ap', 'INBOX', message('own append'));
    // A is the first session told about its own message, so it is \Recent here: RECENT follows EXISTS (RFC 3501 §7.3.2).
    expect(lines).toEqual([
      '+ Ready for literal data',
      `* ${count + 1} EXISTS`,
      expect.stringMatching(/^\* [1-9]\d* RECENT$/),
      expect.stringMatching(/^ap OK \[APPENDUID \d+ \d+\] APPEND completed$/),
    ]);
  });
});
