import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { api, type StatsHistory } from '../api';
import { usePoll } from '../poll';

/** The gauges members send with heartbeats that this page charts (mail-runtime/node/cluster.ts names them). */
const CHARTS: { key: string; title: string }[] = [
  { key: 'imapSessions', title: 'IMAP connections' },
  { key: 'pop3Sessions', title: 'POP3 connections' },
  { key: 'submissionSessions', title: 'SMTP submission connections' },
  { key: 'lmtpSessions', title: 'LMTP deliveries in progress' },
  { key: 'mailboxes', title: 'Mailboxes open' },
];

const COLORS = ['#1f6feb', '#d9480f', '#2b8a3e', '#862e9c', '#e8590c', '#0b7285'];
/** The history is sampled every 5 s; the charts ask again at the same pace. */
const REFRESH_MS = 5_000;

interface Series {
  times: number[];
  lines: { label: string; values: (number | null)[] }[];
}

/** Aligns every member's samples on one time axis (seconds) and adds the cluster-wide sum. */
function seriesOf(h: StatsHistory, key: string): Series {
  const members = Object.keys(h.members)
    .filter((id) => h.members[id]!.some((s) => key in s.stats))
    .sort();
  const step = h.sampleMs;
  const times = [...new Set(members.flatMap((id) => h.members[id]!.map((s) => Math.round(s.t / step) * step)))].sort((a, b) => a - b);
  const index = new Map(times.map((t, i) => [t, i]));
  const lines = members.map((id) => {
    const values: (number | null)[] = times.map(() => null);
    for (const s of h.members[id]!) {
      const v = s.stats[key];
      if (v !== undefined) values[index.get(Math.round(s.t / step) * step)!] = v;
    }
    return { label: id, values };
  });
  const total = times.map((_, i) => {
    const vs = lines.map((l) => l.values[i]).filter((v): v is number => v !== null && v !== undefined);
    return vs.length ? vs.reduce((a, b) => a + b, 0) : null;
  });
  return { times: times.map((t) => t / 1000), lines: lines.length ? [...lines, { label: 'cluster', values: total }] : [] };
}

function Chart({ title, series }: { title: string; series: Series }) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const labels = series.lines.map((l) => l.label).join(',');
  useEffect(() => {
    if (!box.current) return;
    plot.current?.destroy();
    plot.current = new uPlot(
      {
        title,
        width: Math.min(720, box.current.clientWidth || 720),
        height: 220,
        series: [{}, ...series.lines.map((l, i) => ({ label: l.label, stroke: l.label === 'cluster' ? '#212529' : COLORS[i % COLORS.length], width: l.label === 'cluster' ? 2 : 1 }))],
        axes: [{}, { size: 50 }],
      },
      [series.times, ...series.lines.map((l) => l.values)] as uPlot.AlignedData,
      box.current,
    );
    return () => {
      plot.current?.destroy();
      plot.current = null;
    };
    // Rebuild only when the set of lines changes; new points go through setData below.
  }, [labels, title]);
  useEffect(() => {
    plot.current?.setData([series.times, ...series.lines.map((l) => l.values)] as uPlot.AlignedData);
  }, [series]);
  return <figure ref={box} class="chart" data-testid={`chart-${title}`} aria-label={`${title}, per node and cluster-wide, last hour`} role="img" />;
}

export function Performance(_: { readOnly: boolean }) {
  const { data, error } = usePoll(() => api.get<StatsHistory>('/v1/metrics/history'), REFRESH_MS);
  if (!data) return <p role="status">{error ?? 'Loading…'}</p>;
  const samples = Object.values(data.members).reduce((n, l) => n + l.length, 0);
  return (
    <>
      <p>
        The last hour of what each member reports with its heartbeats (one sample per {data.sampleMs / 1000} s, kept in the hub’s memory; Prometheus keeps the long history). {samples} samples from{' '}
        {Object.keys(data.members).length} members.
      </p>
      {CHARTS.map((c) => {
        const s = seriesOf(data, c.key);
        return s.lines.length ? <Chart key={c.key} title={c.title} series={s} /> : null;
      })}
    </>
  );
}
