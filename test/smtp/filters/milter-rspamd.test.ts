import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { milterFilter, runFilters, type HeaderEdit } from '../../../mail-runtime/smtp/filters';
import { GTUBE, startRspamd, type TestRspamd } from '../../helpers/rspamd';
import { dataContext } from './fakes';

/**
 * The milter client against a real milter: rspamd's proxy worker in milter
 * mode (scanning itself), from the Debian rspamd started with a local
 * config. GTUBE is refused with rspamd's own reply; a clean message is
 * accepted with the score headers rspamd adds through SMFIR_ADDHEADER /
 * INSHEADER, and the stale ones it removes through SMFIR_CHGHEADER.
 */
let rspamd: TestRspamd;
beforeAll(async () => {
  rspamd = await startRspamd();
});
afterAll(() => rspamd?.dispose());

const message = (body: string, extra = '') =>
  `From: sender@example.net\r\nTo: alice@example.test\r\nSubject: hello\r\nMessage-ID: <${Math.random().toString(36).slice(2)}@example.net>\r\nDate: Tue, 1 Dec 2026 10:00:00 +0000\r\n${extra}\r\n${body}\r\n`;
const milter = () => milterFilter({ name: 'rspamd', address: rspamd.milter, hostname: 'mx.example.test', timeoutMs: 60_000, onError: 'tempfail' });

describe('rspamd in milter mode', () => {
  it('GTUBE: refused with the reply rspamd chose', async () => {
    const r = await runFilters([milter()], dataContext(message(`Buy now.\r\n${GTUBE}`)));
    // rspamd answers SMFIR_REPLYCODE with its reject code and the symbol's SMTP message.
    expect(r.verdict).toEqual({ kind: 'reject', reply: { code: 554, enhanced: '5.7.1', text: expect.stringMatching(/gtube/i) } });
    expect(r.notes['data.milter.rspamd.step']).toBe('eob');
  });

  it('a clean message: accepted with its score headers', async () => {
    const r = await runFilters([milter()], dataContext(message('Shall we meet for lunch at noon on Thursday?')));
    expect(r.verdict).toEqual({ kind: 'continue' });
    const added = r.headers.filter((h): h is Extract<HeaderEdit, { op: 'add' }> => h.op === 'add');
    const names = added.map((h) => h.name);
    expect(names).toEqual(expect.arrayContaining(['X-Spamd-Result', 'X-Spam-Status']));
    expect(added.find((h) => h.name === 'X-Spam-Status')!.value).toMatch(/^No, score=/);
  });

  it('a planted X-Spam-Status is removed by rspamd through CHGHEADER', async () => {
    const r = await runFilters([milter()], dataContext(message('Lunch?', 'X-Spam-Status: No, score=-100\r\n')));
    expect(r.verdict).toEqual({ kind: 'continue' });
    expect(r.headers).toEqual(expect.arrayContaining([expect.objectContaining({ op: 'change', name: 'X-Spam-Status', value: null })]));
  });
});
