import { mkdir, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { CommandWork } from '../../../mail-runtime/imap/commands/work';
import { imapAppend, message, norm } from '../../helpers/imap';
import type { LineClient } from '../../helpers/line-client';
import { fileImapNode } from '../../helpers/node';

/**
 * SEARCH on flags alone reads the store's flag column (UIDs and flag bits
 * as typed arrays, commands/search.ts walkFlagsOnly) and decides once per
 * distinct bits value. RFC 3501 §6.4.4 decides what it answers: exactly
 * what the general evaluation answers for the same key made to take the
 * long way (AND a UID range, which is always true), after this session's
 * and another session's STORE, APPEND and EXPUNGE (the other session's not
 * yet announced here: RFC 3501 §7.4.1 keeps the sequence numbers), with
 * ESEARCH (RFC 4731) and UID SEARCH; and while another session changes the
 * folder in the middle of a search.
 */
const USER = { address: 'column@example.com', password: 'column-pw' };
const env = fileImapNode({ users: [USER] }, USER);

afterEach(() => {
  vi.restoreAllMocks();
});

let tagNo = 0;
async function run(c: LineClient, command: string): Promise<string[]> {
  const tag = `c${++tagNo}`;
  const lines = norm(await c.command(tag, command, 60_000));
  expect(lines[lines.length - 1], command).toMatch(new RegExp(`^${tag} OK `));
  // The tag inside an ESEARCH response differs between two commands.
  return lines.filter((l) => l.startsWith('* SEARCH') || l.startsWith('* ESEARCH')).map((l) => l.replace(/\(TAG "[^"]*"\) /, ''));
}

const KEYS = [
  'UNSEEN',
  'SEEN',
  'DELETED',
  'UNDELETED',
  'FLAGGED',
  'NOT FLAGGED',
  'ANSWERED',
  'DRAFT',
  'UNSEEN UNDELETED',
  'OR SEEN FLAGGED',
  'KEYWORD $Junk',
  'UNKEYWORD $junk',
  'OR KEYWORD work UNSEEN',
  'ALL',
];

const ALL_FORMS = ['SEARCH', 'UID SEARCH', 'SEARCH RETURN (MIN MAX COUNT ALL)'];
/** SEARCH holds expunges back (RFC 3501 §7.4.1), UID SEARCH does not: these keep the view as it is. */
const HOLDING_FORMS = ['SEARCH', 'SEARCH RETURN (MIN MAX COUNT ALL)'];

/** Every key both ways, in each form; returns the fast answers (for checks of the values). */
async function expectSameBothWays(c: LineClient, forms = ALL_FORMS): Promise<Record<string, string[]>> {
  const fast: Record<string, string[]> = {};
  for (const k of KEYS) {
    for (const form of forms) {
      const got = await run(c, `${form} ${k}`);
      expect(got, `${form} ${k}`).toEqual(await run(c, `${form} ${k} UID 1:*`));
      fast[`${form} ${k}`] = got;
    }
  }
  return fast;
}

describe('RFC 3501 §6.4.4: SEARCH on the flag column answers what the general evaluation answers', () => {
  it('after STORE +FLAGS/-FLAGS, APPEND and EXPUNGE here and by another session', async () => {
    const a = await env.login();
    await run(a, 'CREATE Col1');
    const flags = ['(\\Seen)', '()', '(Work \\Seen)', '($Junk)', '(\\Flagged)', '(\\Seen \\Deleted)', '(\\Answered \\Draft)', '()'];
    for (const [i, f] of flags.entries()) expect((await imapAppend(a, `a${i}`, 'Col1', message(`col1-${i}`), f))[1]).toMatch(/^a\d+ OK /);
    await a.command('s', 'SELECT Col1');
    expect((await expectSameBothWays(a))['SEARCH UNSEEN']).toEqual(['* SEARCH 2 4 5 7 8']);

    // This session: STORE (a system flag in another spelling, a keyword in another case), APPEND, EXPUNGE.
    await run(a, 'STORE 2 +FLAGS.SILENT (\\SEEN)');
    await run(a, 'STORE 1 -FLAGS.SILENT (\\Seen)');
    await run(a, 'STORE 8 +FLAGS.SILENT ($junk work)');
    expect((await imapAppend(a, 'ap', 'Col1', message('col1-new'), '(\\Flagged)')).at(-1)).toMatch(/^ap OK /);
    await run(a, 'NOOP');
    expect((await expectSameBothWays(a))['SEARCH UNSEEN']).toEqual(['* SEARCH 1 4 5 7 8 9']);
    await run(a, 'EXPUNGE');
    expect((await expectSameBothWays(a))['SEARCH UNSEEN']).toEqual(['* SEARCH 1 4 5 6 7 8']);

    // Another session changes flags, expunges and appends. The first SEARCH tells `a` of the new
    // message (EXISTS); the expunges wait for a command that may announce them (NOOP below).
    const b = await env.login();
    await b.command('s', 'SELECT Col1');
    await run(b, 'STORE 1:3 +FLAGS.SILENT (\\Seen \\Deleted)');
    await run(b, 'EXPUNGE');
    await run(b, 'STORE 1 -FLAGS.SILENT (\\Seen)');
    expect((await imapAppend(b, 'bp', 'Col1', message('col1-b'), '($Junk)')).at(-1)).toMatch(/^bp OK /);
    expect(await run(a, 'SEARCH UNSEEN')).toEqual(['* SEARCH 4 5 6 7 8']);
    const fast = await expectSameBothWays(a, HOLDING_FORMS);
    // a's sequence numbers still count the three expunged messages (1-3): they are skipped, not renumbered.
    expect(fast['SEARCH UNSEEN']).toEqual(['* SEARCH 4 5 6 7 8 9']);
    expect(fast['SEARCH KEYWORD $Junk']).toEqual(['* SEARCH 4 7 9']);
    // After a NOOP a has been told: the expunged ones are gone.
    await run(a, 'NOOP');
    expect((await expectSameBothWays(a))['SEARCH UNSEEN']).toEqual(['* SEARCH 1 2 3 4 5 6']);
  });

  it('while another session changes flags and expunges in the middle of the search', async () => {
    // 1,500 messages dropped into cur/ (Maildir is the store's format): the walk pauses between its 512-message stretches.
    const cur = join(env.node.dir, 'storage', 'mail', 'example.com', 'column', '.Mid', 'cur');
    const a = await env.login();
    await run(a, 'CREATE Mid');
    await mkdir(cur, { recursive: true });
    const count = 1500;
    const t0 = Date.UTC(2024, 0, 1) / 1000;
    for (let i = 0; i < count; i++) {
      const name = `${t0 + i}.M${i}P1.test,S=100:2,${i % 3 === 0 ? '' : 'S'}`;
      await writeFile(join(cur, name), message(`mid-${i}`));
      await utimes(join(cur, name), t0 + i, t0 + i);
    }
    const sel = norm(await a.command('s', 'SELECT Mid'));
    expect(sel).toContain(`* ${count} EXISTS`);
    const oldUnseen = (await run(a, 'SEARCH UNSEEN'))[0]!;
    expect(oldUnseen.split(' ').length - 2).toBe(count / 3);

    const b = await env.login();
    await b.command('s', 'SELECT Mid');
    // Every work slice is used up at once: the search pauses after each stretch, and at its first pause
    // another session expunges 600:700 and clears \Seen everywhere, durably, before the search goes on.
    vi.spyOn(CommandWork.prototype, 'due').mockReturnValue(true);
    const realPause = CommandWork.prototype.pause;
    let armed = false;
    let injected = false;
    vi.spyOn(CommandWork.prototype, 'pause').mockImplementation(async function (this: CommandWork) {
      if (armed && !injected) {
        injected = true;
        await run(b, 'STORE 600:700 +FLAGS.SILENT (\\Deleted)');
        await run(b, 'EXPUNGE');
        await run(b, 'STORE 1:* -FLAGS.SILENT (\\Seen)');
      }
      return realPause.call(this);
    });
    armed = true;
    const got = (await run(a, 'SEARCH UNSEEN'))[0]!;
    expect(injected).toBe(true);
    const seqs = got.split(' ').slice(2).map(Number);
    // The first stretch (1-512) was decided before the change, the rest after; 600-700 are gone (skipped, a not told yet).
    const want: number[] = [];
    for (let s = 1; s <= count; s++) {
      if (s <= 512 ? (s - 1) % 3 === 0 : s < 600 || s > 700) want.push(s);
    }
    expect(seqs).toEqual(want);
    vi.restoreAllMocks();
    // The same search again, the general way and the column's, once the change is announced.
    await run(a, 'NOOP');
    const after = await run(a, 'SEARCH UNSEEN');
    expect(after).toEqual(await run(a, 'SEARCH UNSEEN UID 1:*'));
    expect(after[0]!.split(' ').length - 2).toBe(count - 101);
  });
});
