import { describe, expect, it } from 'vitest';
import { isolationResult } from '../../bench/isolation';
import { RunResultsSchema } from '../../bench/report';

/** The isolation table in the shared results format: numbers become rows, verdicts notes; nothing is dropped. */
describe('isolationResult', () => {
  const table = [
    { section: 'no attack', metric: 'bystander NOOP p50 / p99 / max', value: '1.2 ms / 34 ms / 10.5 s', note: '80 NOOPs' },
    { section: 'login flood', metric: 'alice LOGIN, unloaded (median of 5)', value: '250 ms', note: '5 OK' },
    { section: 'login flood', metric: 'flood answers', value: '512', note: '8 wave(s)' },
    { section: 'lockout', metric: 'victim LOGIN from home', value: 'OK', note: 'in 300 ms' },
    { section: 'connection flood', metric: 'silent IMAPS connections still held at 30.0 s', value: '3/200' },
    { section: 'no attack', metric: 'bystander NOOP p50 / p99 / max', value: '1.0 ms / 2.0 ms / 3.0 ms' },
  ];

  it('splits latency cells into one ms row per figure and keeps counts as rows', () => {
    const { rows } = isolationResult(table);
    expect(rows.slice(0, 3)).toEqual([
      { suite: 'isolation', metric: 'no attack: bystander NOOP p50', unit: 'ms', mailfleet: 1.2, better: 'lower', note: '80 NOOPs' },
      { suite: 'isolation', metric: 'no attack: bystander NOOP p99', unit: 'ms', mailfleet: 34, better: 'lower' },
      { suite: 'isolation', metric: 'no attack: bystander NOOP max', unit: 'ms', mailfleet: 10_500, better: 'lower' },
    ]);
    expect(rows.find((r) => r.metric === 'login flood: alice LOGIN, unloaded (median of 5)')).toMatchObject({ unit: 'ms', mailfleet: 250, note: '5 OK' });
    expect(rows.find((r) => r.metric === 'login flood: flood answers')).toMatchObject({ unit: 'count', mailfleet: 512 });
    // A metric seen twice keeps both rows (the report would otherwise merge them into one).
    expect(rows.filter((r) => r.metric.startsWith('no attack: bystander NOOP p50')).map((r) => [r.metric, r.mailfleet])).toEqual([
      ['no attack: bystander NOOP p50', 1.2],
      ['no attack: bystander NOOP p50 (2)', 1],
    ]);
    expect(rows).toHaveLength(3 + 1 + 1 + 3);
  });

  it('keeps verdicts as notes, and the rows fit the results schema', () => {
    const res = isolationResult(table);
    expect(res.notes).toEqual(['lockout — victim LOGIN from home: OK (in 300 ms)', 'connection flood — silent IMAPS connections still held at 30.0 s: 3/200']);
    const run = {
      schema: 1,
      startedAt: 'x',
      finishedAt: 'y',
      durationS: 1,
      suites: ['isolation'],
      commit: null,
      dirty: false,
      machine: { cpus: 2, cpuModel: 'cpu', memGiB: 1, kernel: 'k', node: 'v20', loadavg: { start: [0, 0, 0], end: [0, 0, 0] }, storage: 's' },
      anchors: { available: false, reason: 'test', settings: [] },
      rows: res.rows,
      notes: { isolation: res.notes ?? [] },
      failures: [],
    };
    expect(RunResultsSchema.safeParse(run).success).toBe(true);
  });
});
