import { describe, expect, it } from 'vitest';
import { imapAppend, message, norm } from '../../helpers/imap';
import type { LineClient } from '../../helpers/line-client';
import { fileImapNode } from '../../helpers/node';

/**
 * SEARCH on index metadata has two shortcuts (commands/search.ts): a key on
 * flags alone is decided once per distinct flag list, and a key that is one
 * UID or sequence range matches its whole window. RFC 3501 §6.4.4 decides
 * what they answer: exactly what the general evaluation answers for an
 * equivalent key that takes the long way (an AND with a key that is always
 * true), also while another session's expunge is not yet announced
 * (RFC 3501 §7.4.1: SEARCH keeps the sequence numbers meanwhile).
 */
const USER = { address: 'fast@example.com', password: 'fast-pw' };
const { login } = fileImapNode({ users: [USER] }, USER);

let tagNo = 0;
async function searchLine(c: LineClient, command: string): Promise<string> {
  const tag = `f${++tagNo}`;
  const lines = norm(await c.command(tag, command));
  expect(lines[lines.length - 1]).toBe(`${tag} OK SEARCH completed`);
  const hit = lines.find((l) => l.startsWith('* SEARCH'));
  expect(hit, command).toBeDefined();
  return hit!;
}

describe('RFC 3501 §6.4.4: metadata SEARCH shortcuts answer what the general evaluation answers', () => {
  it('flags-only keys (any spelling of a keyword) and single ranges, before and after another session expunges', async () => {
    const a = await login();
    const flags = ['(\\Seen)', '()', '(Work \\Seen)', '(work)', '(\\Flagged)', '(\\Seen \\Deleted)', '()'];
    for (const [i, f] of flags.entries()) expect((await imapAppend(a, `a${i}`, 'INBOX', message(`m${i}`), f))[1]).toMatch(/^a\d+ OK /);
    await a.command('s', 'SELECT INBOX');
    const pairs: Array<[fast: string, long: string, expected: string]> = [
      ['SEARCH UNSEEN', 'SEARCH UNSEEN UID 1:*', '* SEARCH 2 4 5 7'],
      ['SEARCH KEYWORD WORK', 'SEARCH KEYWORD WORK 1:*', '* SEARCH 3 4'],
      ['SEARCH NOT KEYWORD work', 'SEARCH NOT KEYWORD work 1:*', '* SEARCH 1 2 5 6 7'],
      ['SEARCH OR FLAGGED DELETED', 'SEARCH OR FLAGGED DELETED 1:*', '* SEARCH 5 6'],
      ['SEARCH 2:4', 'SEARCH 2:4 UID 1:*', '* SEARCH 2 3 4'],
      ['UID SEARCH 3:*', 'UID SEARCH 3:* 1:*', '* SEARCH 3 4 5 6 7'],
      ['SEARCH *', 'SEARCH * UID 1:*', '* SEARCH 7'],
    ];
    for (const [fast, long, expected] of pairs) {
      expect(await searchLine(a, fast), fast).toBe(expected);
      expect(await searchLine(a, long), long).toBe(expected);
    }
    // Another session expunges message 6 (\Deleted); `a` has not been told yet.
    const b = await login();
    await b.command('s', 'SELECT INBOX');
    expect(norm(await b.command('e', 'EXPUNGE'))).toContain('e OK EXPUNGE completed');
    for (const [fast, long] of [
      ['SEARCH 1:*', 'SEARCH 1:* UID 1:*'],
      ['SEARCH UNSEEN', 'SEARCH UNSEEN 1:*'],
      ['SEARCH NOT SEEN', 'SEARCH NOT SEEN UID 1:*'],
    ]) {
      expect(await searchLine(a, fast!), fast).toBe(await searchLine(a, long!));
    }
    expect(await searchLine(a, 'SEARCH 5:*')).toBe('* SEARCH 5 7');
  });
});
