import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { api, type StatsHistory } from '../api';
import { usePoll } from '../poll';

/**
 * What members send with heartbeats that this page charts (mail-runtime/node/cluster.ts,
 * mail-runtime/gateway/start.ts and hub/protocol PERF_STATS name them). `rate`:
 * a counter since the member started, charted per minute; `cluster`: how the
 * members' lines add up (latency: the worst gateway, never a sum).
 */
const CHARTS: { key: string; title: string; rate?: true; cluster: 'sum' | 'max' }[] = [
  { key: 'messagesIn', title: 'Messages in per minute', rate: true, cluster: 'sum' },
  { key: 'messagesOut', title: 'Messages out per minute', rate: true, cluster: 'sum' },
  { key: 'deliveryP50Ms', title: 'Delivery latency p50 (ms)', cluster: 'max' },
  { key: 'deliveryP99Ms', title: 'Delivery latency p99 (ms)', cluster: 'max' },
  { key: 'queueDepth', title: 'Queue depth', cluster: 'sum' },
  { key: 'imapSessions', title: 'IMAP connections', cluster: 'sum' },
  { key: 'pop3Sessions', title: 'POP3 connections', cluster: 'sum' },
  { key: 'submissionSessions', title: 'SMTP submission connections', cluster: 'sum' },
  { key: 'smtpSessions', title: 'SMTP (MX) connections', cluster: 'sum' },
  { key: 'lmtpSessions', title: 'LMTP deliveries in progress', cluster: 'sum' },
  { key: 'mailboxes', title: 'Mailboxes open', cluster: 'sum' },
];

const COLORS = ['#1f6feb', '#d9480f', '#2b8a3e', '#862e9c', '#e8590c', '#0b7285'];
/** The history is sampled every 5 s; the charts ask again at the same pace. */
const REFRESH_MS = 5_000;

interface Series {
  times: number[];
  lines: { label: string; values: (number | null)[] }[];
}

/** A counter's samples as per-minute rates between consecutive samples (a drop is a restart: counted from 0). */
function perMinute(samples: { t: number; v: number }[]): { t: number; v: number }[] {
  const out: { t: number; v: number }[] = [];
  for (let i = 1; i < samples.length; i++) {
    const a = samples[i - 1]!;
    const b = samples[i]!;
    const dt = b.t - a.t;
    if (dt <= 0) continue;
    const delta = b.v >= a.v ? b.v - a.v : b.v;
    out.push({ t: b.t, v: Math.round((delta * 60_000 * 10) / dt) / 10 });
  }
  return out;
}

/** Aligns every member's samples on one time axis (seconds) and adds the cluster-wide line. */
function seriesOf(h: StatsHistory, chart: (typeof CHARTS)[number]): Series {
  const { key } = chart;
  const step = h.sampleMs;
  const members = Object.keys(h.members)
    .filter((id) => h.members[id]!.some((s) => key in s.stats))
    .sort();
  const points = new Map(
    members.map((id) => {
      const raw = h.members[id]!.filter((s) => s.stats[key] !== undefined).map((s) => ({ t: Math.round(s.t / step) * step, v: s.stats[key]! }));
      return [id, chart.rate ? perMinute(raw) : raw] as const;
    }),
  );
  const times = [...new Set([...points.values()].flatMap((ps) => ps.map((p) => p.t)))].sort((a, b) => a - b);
  const index = new Map(times.map((t, i) => [t, i]));
  const lines = members.map((id) => {
    const values: (number | null)[] = times.map(() => null);
    for (const p of points.get(id)!) values[index.get(p.t)!] = p.v;
    return { label: id, values };
  });
  const total = times.map((_, i) => {
    const vs = lines.map((l) => l.values[i]).filter((v): v is number => v !== null && v !== undefined);
    if (!vs.length) return null;
    return chart.cluster === 'max' ? Math.max(...vs) : vs.reduce((a, b) => a + b, 0);
  });
  return { times: times.map((t) => t / 1000), lines: lines.length && times.length ? [...lines, { label: 'cluster', values: total }] : [] };
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
  return <figure ref={box} class="chart" data-testid={`chart-${title}`} data-series={labels} aria-label={`${title}, per node and cluster-wide, last hour`} role="img" />;
}

export function Performance(_: { readOnly: boolean }) {
  const { data, error } = usePoll(() => api.get<StatsHistory>('/v1/metrics/history'), REFRESH_MS);
  if (!data) return <p role="status">{error ?? 'Loading…'}</p>;
  const samples = Object.values(data.members).reduce((n, l) => n + l.length, 0);
  return (
    <>
      <p>
        The last hour of what each member reports with its heartbeats (one sample per {data.sampleMs / 1000} s, kept by the hub and on its storage, so a standby hub that takes over shows it too; Prometheus keeps the long history). {samples} samples from{' '}
        {Object.keys(data.members).length} members.
      </p>
      {CHARTS.map((c) => {
        const s = seriesOf(data, c);
        return s.lines.length ? <Chart key={c.key} title={c.title} series={s} /> : null;
      })}
    </>
  );
}
