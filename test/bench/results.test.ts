import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { fmtNumber, mailfleetAhead, mergeRows, resultsMarkdown, resultsStem, row, RunResultsSchema, suiteTable, writeResults, type RunResults } from '../../bench/report';

const base = (): RunResults => ({
  schema: 1,
  startedAt: '2026-12-01T23:40:05.123Z',
  finishedAt: '2026-12-01T23:50:05.000Z',
  durationS: 600,
  suites: ['imap', 'floor'],
  commit: 'abc123',
  dirty: false,
  machine: { cpus: 2, cpuModel: 'Test CPU', memGiB: 24, kernel: '6.1', node: 'v20.0.0', loadavg: { start: [11.2, 12, 13], end: [10, 11, 12] }, storage: '/tmp on /dev/vda (ext4)' },
  anchors: { available: true, versions: { postfix: '3.7.11', dovecot: '2.3.19.1' }, settings: ['Dovecot: mail_fsync = optimized'] },
  rows: [
    row({ suite: 'imap', metric: 'FETCH', unit: 'MiB/s', mailfleet: 50, anchor: 200, better: 'higher' }),
    row({ suite: 'imap', metric: 'memory per session', unit: 'KiB', mailfleet: 14, anchor: 700, better: 'lower' }),
    row({ suite: 'floor', metric: 'fsync, 1 thread', unit: 'fsync/s', mailfleet: 262 }),
  ],
  notes: { imap: ['Chosen: BLF-CRYPT cost 11.'] },
  failures: [],
});

describe('bench rows', () => {
  it('ratio is mailfleet / anchor, only when both are there and the anchor is not 0', () => {
    expect(row({ suite: 's', metric: 'm', unit: 'u', mailfleet: 50, anchor: 200 }).ratio).toBe(0.25);
    expect(row({ suite: 's', metric: 'm', unit: 'u', mailfleet: 50, anchor: null }).ratio).toBeUndefined();
    expect(row({ suite: 's', metric: 'm', unit: 'u', mailfleet: null, anchor: 2 }).ratio).toBeUndefined();
    expect(row({ suite: 's', metric: 'm', unit: 'u', mailfleet: 5, anchor: 0 }).ratio).toBeUndefined();
    expect('anchor' in row({ suite: 's', metric: 'm', unit: 'u', mailfleet: 5 })).toBe(false);
  });

  it('says who is ahead from the direction of the metric', () => {
    expect(mailfleetAhead(row({ suite: 's', metric: 'rate', unit: '/s', mailfleet: 2, anchor: 1, better: 'higher' }))).toBe(true);
    expect(mailfleetAhead(row({ suite: 's', metric: 'time', unit: 'ms', mailfleet: 2, anchor: 1, better: 'lower' }))).toBe(false);
    expect(mailfleetAhead(row({ suite: 's', metric: 'x', unit: 'u', mailfleet: 2, anchor: 1 }))).toBeUndefined();
  });

  it('rejects figures that are not finite numbers (a NaN would print as a figure)', () => {
    expect(() => row({ suite: 's', metric: 'm', unit: 'u', mailfleet: Number.NaN })).toThrow();
    expect(() => row({ suite: '', metric: 'm', unit: 'u', mailfleet: 1 })).toThrow();
  });

  it('merges a mailfleet-only row and an anchor-only row of the same figure into one, with the ratio', () => {
    const merged = mergeRows([
      row({ suite: 'smtp', metric: 'msg/s 10 KB', unit: 'msg/s', mailfleet: null, anchor: 200, better: 'higher', note: 'anchor run' }),
      row({ suite: 'smtp', metric: 'other', unit: 'ms', mailfleet: 3 }),
      row({ suite: 'smtp', metric: 'msg/s 10 KB', unit: 'msg/s', mailfleet: 300, note: 'gateway' }),
    ]);
    expect(merged).toHaveLength(2);
    expect(merged[0]).toMatchObject({ metric: 'msg/s 10 KB', mailfleet: 300, anchor: 200, ratio: 1.5, better: 'higher', note: 'anchor run; gateway' });
  });

  it('refuses to merge rows that disagree on the unit', () => {
    expect(() => mergeRows([row({ suite: 's', metric: 'm', unit: 'ms', mailfleet: 1 }), row({ suite: 's', metric: 'm', unit: 's', mailfleet: 1 })])).toThrow(/unit: ms vs s/);
  });
});

describe('bench report', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mailfleet-test-bench-results-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('formats numbers with three significant figures', () => {
    expect([fmtNumber(0.5704), fmtNumber(3.86), fmtNumber(58.84), fmtNumber(262.4), fmtNumber(28365.2), fmtNumber(null)]).toEqual(['0.570', '3.86', '58.8', '262', '28,365', '–']);
  });

  it('marks rows where mailfleet is ahead or behind, and shows suites without an anchor as plain values', () => {
    const res = base();
    expect(suiteTable(res.rows.filter((r) => r.suite === 'imap'))).toBe(
      [
        '| metric | unit | mailfleet | anchor | mailfleet / anchor | note |',
        '| --- | --- | ---: | ---: | ---: | --- |',
        '| FETCH | MiB/s | 50.0 | 200 | 0.25× ✗ |  |',
        '| memory per session | KiB | 14.0 | 700 | 0.02× ✓ |  |',
      ].join('\n'),
    );
    expect(suiteTable(res.rows.filter((r) => r.suite === 'floor'))).toContain('| fsync, 1 thread | fsync/s | 262 |  |');
  });

  it('states the load average and flags a busy machine', () => {
    const md = resultsMarkdown(base());
    expect(md).toContain('load average (1/5/15 min): 11.20 / 12.00 / 13.00 at start, 10.00 / 11.00 / 12.00 at end');
    expect(md).toContain('the machine was shared and busy');
    expect(md).toContain('anchors: postfix 3.7.11, dovecot 2.3.19.1');
    expect(md).toContain('- Chosen: BLF-CRYPT cost 11.');
    const idle = { ...base(), machine: { ...base().machine, loadavg: { start: [0.5, 0.4, 0.3], end: [0.6, 0.5, 0.4] } } };
    expect(resultsMarkdown(idle)).not.toContain('shared and busy');
  });

  it('says when the anchors were unavailable', () => {
    const res: RunResults = { ...base(), anchors: { available: false, reason: 'missing postfix', settings: [] } };
    expect(resultsMarkdown(res)).toContain('anchors: not available (missing postfix): mailfleet alone');
  });

  it('writes <date>.json (validated, readable back) and <date>.md', async () => {
    const { json, md } = await writeResults(dir, base());
    expect(json).toBe(join(dir, '2026-12-01T23-40-05Z.json'));
    expect(RunResultsSchema.parse(JSON.parse(readFileSync(json, 'utf8')))).toEqual(base());
    expect(readFileSync(md, 'utf8')).toBe(resultsMarkdown(base()));
  });

  it('refuses to write results that do not match the schema', async () => {
    const bad = { ...base(), machine: { ...base().machine, loadavg: undefined } } as unknown as RunResults;
    await expect(writeResults(dir, bad)).rejects.toThrow(/loadavg/);
  });

  it('ends with the time of each suite and the total, and names the suites the budget left out', () => {
    const md = resultsMarkdown({ ...base(), suiteSeconds: { imap: 412.3, floor: 35 }, skipped: ['isolation'] });
    expect(md).toContain('## Time');
    expect(md).toMatch(/\| imap \| 412 \| +\|\n\| floor \| 35\.0 \| +\|\n\| \*\*total\*\* [^|]*\| \*\*600\*\* \| 11\.2 → 10\.0 \|/);
    expect(md).toContain('Not run, the time budget was spent: isolation (run them by name: `npm run bench -- isolation`).');
    // Results from before the per-suite times still read, and print no Time section.
    expect(RunResultsSchema.parse(base()).suiteSeconds).toBeUndefined();
    expect(resultsMarkdown(base())).not.toContain('## Time');
  });

  it('names files so they sort by time', () => {
    expect(resultsStem(new Date('2026-01-02T03:04:05.678Z'))).toBe('2026-01-02T03-04-05Z');
  });
});
