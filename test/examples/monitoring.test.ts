import { spawnSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import YAML from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { TestCluster, type RunningMember } from '../helpers/cluster';
import { findProgram } from '../helpers/daemon';
import { gatewayConfig, spawnGateway, writeGatewayUsers, type SpawnedGateway } from '../helpers/gateway';
import { spawnMember, type SpawnedProcess } from '../helpers/hub';
import { startLmtpSink, type LmtpSink } from '../helpers/lmtp-sink';
import { command, data, message, openSession } from '../helpers/smtp-raw';

/**
 * examples/monitoring/: the Prometheus alert rules (checked and unit-tested by
 * promtool, the Debian `prometheus` package), the Grafana dashboard (the
 * fields Grafana needs), and that every metric either of them reads is one
 * that real members, scraped over HTTP, export.
 */
const DIR = resolve(__dirname, '../../examples/monitoring');
const RULES = join(DIR, 'alerts.yml');
const RULE_TESTS = join(DIR, 'tests', 'alerts.test.yml');
const DASHBOARD = join(DIR, 'grafana-dashboard.json');

const promtool = (): string => findProgram(['promtool'], 'prometheus');
function runPromtool(args: readonly string[], cwd = DIR): { status: number | null; output: string } {
  const r = spawnSync(promtool(), args, { cwd, encoding: 'utf8', timeout: 120_000 });
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

// ---------------------------------------------------------------------------
// Reading the files

const RuleFile = z.strictObject({
  groups: z.array(
    z.strictObject({
      name: z.string(),
      rules: z.array(
        z.strictObject({
          alert: z.string(),
          expr: z.string(),
          for: z.string().optional(),
          labels: z.strictObject({ severity: z.enum(['warning', 'critical']) }),
          annotations: z.strictObject({ summary: z.string().min(1), description: z.string().min(1) }),
        }),
      ),
    }),
  ),
});

const Datasource = z.strictObject({ type: z.literal('prometheus'), uid: z.literal('${datasource}') });
const GridPos = z
  .strictObject({ x: z.number().int().min(0), y: z.number().int().min(0), w: z.number().int().min(1), h: z.number().int().min(1) })
  .refine((g) => g.x + g.w <= 24, 'a panel must fit the 24-column grid');
const Panel = z.discriminatedUnion('type', [
  z.object({ type: z.literal('row'), id: z.number().int(), title: z.string().min(1), gridPos: GridPos }),
  z.object({
    type: z.enum(['timeseries', 'stat']),
    id: z.number().int(),
    title: z.string().min(1),
    gridPos: GridPos,
    datasource: Datasource,
    targets: z
      .array(z.object({ refId: z.string().min(1), datasource: Datasource, expr: z.string().min(1), legendFormat: z.string() }))
      .min(1)
      .refine((ts) => new Set(ts.map((t) => t.refId)).size === ts.length, 'refIds must be unique within a panel'),
    fieldConfig: z.object({ defaults: z.record(z.string(), z.unknown()), overrides: z.array(z.unknown()) }),
  }),
]);
/** What Grafana's dashboard import and provisioning read (grafana.com/docs/grafana/latest/dashboards/build-dashboards/view-dashboard-json-model/). */
const Dashboard = z.object({
  title: z.string().min(1),
  uid: z.string().regex(/^[A-Za-z0-9_-]{1,40}$/),
  schemaVersion: z.number().int().min(36),
  time: z.object({ from: z.string(), to: z.string() }),
  templating: z.object({
    list: z.array(z.object({ name: z.string(), type: z.string(), query: z.string().optional() })),
  }),
  panels: z.array(Panel).min(1),
});
type Dashboard = z.infer<typeof Dashboard>;

async function rules(): Promise<z.infer<typeof RuleFile>> {
  return RuleFile.parse(YAML.parse(await readFile(RULES, 'utf8')));
}
async function dashboard(): Promise<Dashboard> {
  return Dashboard.parse(JSON.parse(await readFile(DASHBOARD, 'utf8')));
}

function dashboardExprs(d: Dashboard): string[] {
  return d.panels.flatMap((p) => (p.type === 'row' ? [] : p.targets.map((t) => t.expr)));
}

/** Series Prometheus itself makes for every scrape target, not the member. */
const PROMETHEUS_SERIES = new Set(['up']);
const PROMQL_WORDS = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'and', 'or', 'unless', 'bool', 'offset', 'inf', 'nan']);

/**
 * The metric names a PromQL expression reads: identifiers once strings, label
 * matchers, range selectors, grouping clauses, Grafana variables and function
 * calls are taken out.
 */
function metricNames(expr: string): string[] {
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ')
    .replace(/\$\{?\w+\}?/g, ' ');
  const names = new Set<string>();
  for (const m of bare.matchAll(/(?<![\w.])([a-zA-Z_:][a-zA-Z0-9_:]*)(\s*\()?/g)) {
    if (m[2]) continue; // a function
    if (PROMQL_WORDS.has(m[1]!.toLowerCase())) continue;
    names.add(m[1]!);
  }
  return [...names];
}

/** Every series name a /metrics page declares: `# TYPE` lines (also for labelled metrics with no sample yet) expanded to what Prometheus stores, and the samples. */
function exportedNames(text: string): Set<string> {
  const names = new Set<string>();
  for (const line of text.split('\n')) {
    const t = /^# TYPE (\S+) (\w+)$/.exec(line);
    if (t) {
      const [, name, type] = t;
      if (type === 'histogram') for (const s of ['_bucket', '_sum', '_count']) names.add(`${name!}${s}`);
      else if (type === 'summary') for (const s of ['', '_sum', '_count']) names.add(`${name!}${s}`);
      else names.add(name!);
      continue;
    }
    const s = /^([a-zA-Z_:][a-zA-Z0-9_:]*)[{ ]/.exec(line);
    if (s) names.add(s[1]!);
  }
  return names;
}

/** `name{label=…, …}` selectors of a PromQL expression: each metric with the label names its matchers use. */
function selectors(expr: string): { name: string; labels: string[] }[] {
  return [...expr.matchAll(/([a-zA-Z_:][a-zA-Z0-9_:]*)\{([^}]*)\}/g)].map((m) => ({ name: m[1]!, labels: [...m[2]!.matchAll(/(\w+)\s*(?:=~|!~|!=|=)/g)].map((l) => l[1]!) }));
}

/** The label names each metric's samples carry on a /metrics page. */
function sampleLabels(text: string): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)\{(.*)\} \S+$/.exec(line);
    if (!m) continue;
    const set = out.get(m[1]!) ?? new Set<string>();
    for (const l of m[2]!.matchAll(/(\w+)="/g)) set.add(l[1]!);
    out.set(m[1]!, set);
  }
  return out;
}

/** The value of one sample line of a /metrics page (all labels given, any order), or undefined. */
function sample(text: string, name: string, labels: Record<string, string>): number | undefined {
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((l) => [l[1], l[2]]));
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) return Number(m[3]);
  }
  return undefined;
}

// ---------------------------------------------------------------------------

describe('examples/monitoring/alerts.yml (promtool)', () => {
  it('promtool check rules accepts it', () => {
    const r = runPromtool(['check', 'rules', RULES]);
    expect(r.output).toMatch(/SUCCESS: \d+ rules found/);
    expect(r.status, r.output).toBe(0);
  });

  it('has the alerts the issue asks for, each with a severity, summary and description', async () => {
    const names = (await rules()).groups.flatMap((g) => g.rules.map((r) => r.alert));
    for (const a of ['MailfleetMemberDown', 'MailfleetFailoverHappened', 'MailfleetQueueGrowing', 'MailfleetDeliveryLatencyHigh', 'MailfleetCertificateExpiringSoon', 'MailfleetStorageNearFull']) {
      expect(names).toContain(a);
    }
    expect(new Set(names).size).toBe(names.length);
  });

  it('promtool test rules: member down, declared dead, failover, no active hub, queue growing, latency, certificate, storage', async () => {
    const r = runPromtool(['test', 'rules', RULE_TESTS]);
    expect(r.status, r.output).toBe(0);
    expect(r.output).toMatch(/SUCCESS/);
    // Each of these alerts is asserted to fire somewhere in the unit tests (not only to stay silent).
    const tests = YAML.parse(await readFile(RULE_TESTS, 'utf8')) as { tests: { alert_rule_test: { alertname: string; exp_alerts: unknown[] }[] }[] };
    const firing = new Set(tests.tests.flatMap((t) => t.alert_rule_test.filter((a) => a.exp_alerts.length > 0).map((a) => a.alertname)));
    for (const a of (await rules()).groups.flatMap((g) => g.rules.map((x) => x.alert)).filter((a) => a !== 'MailfleetStorageFull')) {
      expect(firing, a).toContain(a);
    }
  });

  it('the unit tests bite: with the member-down and queue rules broken, promtool test rules fails on exactly those', async () => {
    const tmp = await mkdtemp(join(tmpdir(), 'mf-promtool-'));
    try {
      await cp(DIR, tmp, { recursive: true });
      const text = await readFile(RULES, 'utf8');
      const broken = text.replace('expr: up{job="mailfleet"} == 0', 'expr: up{job="mailfleet"} == 2').replace('mailfleet_queue_entries > 100 and', 'mailfleet_queue_entries > 1000 and');
      expect(broken).not.toBe(text);
      await writeFile(join(tmp, 'alerts.yml'), broken);
      const r = runPromtool(['test', 'rules', join(tmp, 'tests', 'alerts.test.yml')], tmp);
      expect(r.status).not.toBe(0);
      expect(r.output).toMatch(/alertname: MailfleetMemberDown/);
      expect(r.output).toMatch(/alertname: MailfleetQueueGrowing/);
      expect(r.output).not.toMatch(/alertname: MailfleetStorageNearFull/);
    } finally {
      await rm(tmp, { recursive: true, force: true });
    }
  });
});

describe('examples/monitoring/grafana-dashboard.json', () => {
  it('has what Grafana needs: schemaVersion, uid, panels on the grid with a datasource and PromQL targets', async () => {
    const d = await dashboard();
    const ids = d.panels.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    // Every panel reads the datasource variable the dashboard defines.
    expect(d.templating.list).toContainEqual(expect.objectContaining({ name: 'datasource', type: 'datasource', query: 'prometheus' }));
  });

  it('shows the overview the issue asks for', async () => {
    const titles = (await dashboard()).panels.map((p) => p.title);
    for (const t of ['Members up', 'Failovers', 'Messages in / out per minute', 'Delivery latency p50 / p99', 'Queue depth', 'Connections per protocol', 'Login failures per minute', 'Shared storage free']) {
      expect(titles).toContain(t);
    }
  });

  it('a broken panel is rejected (the check can fail)', async () => {
    const raw = JSON.parse(await readFile(DASHBOARD, 'utf8')) as { panels: Record<string, unknown>[] };
    const noTargets = structuredClone(raw);
    noTargets.panels[1]!.targets = [];
    expect(Dashboard.safeParse(noTargets).success).toBe(false);
    const noDatasource = structuredClone(raw);
    delete noDatasource.panels[1]!.datasource;
    expect(Dashboard.safeParse(noDatasource).success).toBe(false);
  });
});

describe('metric names in the rules and the dashboard', () => {
  it('are read from the PromQL as written (the extraction itself)', () => {
    expect(metricNames('histogram_quantile(0.99, sum by (le, via) (rate(mailfleet_queue_delivery_seconds_bucket{via="lmtp"}[$__rate_interval])))')).toEqual(['mailfleet_queue_delivery_seconds_bucket']);
    expect(metricNames('(mailfleet_tls_certificate_expiry_timestamp_seconds{self_signed="0"} - time()) < 14 * 86400')).toEqual(['mailfleet_tls_certificate_expiry_timestamp_seconds']);
    expect(metricNames('max(mailfleet_hub_active) < 1 or absent(mailfleet_hub_active)')).toEqual(['mailfleet_hub_active']);
    expect(metricNames('count(up{job="mailfleet"} == 0) or vector(0)')).toEqual(['up']);
  });
});

describe('every metric the rules and the dashboard read is exported by a running member (scraped over HTTP)', () => {
  let cluster: TestCluster;
  let hub: RunningMember;
  let node: RunningMember;
  let gateway: SpawnedGateway;
  let sink: LmtpSink;
  let proxy: SpawnedProcess;
  const scraped = new Map<string, string>();
  const cleanup: (() => Promise<void>)[] = [];

  beforeAll(async () => {
    cluster = await TestCluster.create('mf-monitoring-');
    cleanup.push(() => rm(cluster.dir, { recursive: true, force: true }));
    await cluster.planHubs(1);
    hub = await cluster.startHub(0);
    cleanup.push(() => hub.stop());
    // A node with a certificate file, so the expiry metric can be compared with the file.
    node = await cluster.startNode('node-0', { tls: { certFile: join(cluster.dir, 'tls', 'cert.pem'), keyFile: join(cluster.dir, 'tls', 'key.pem'), generateIfMissing: true } });
    cleanup.push(() => node.stop());
    sink = await startLmtpSink();
    cleanup.push(() => sink.stop());
    const gwDir = join(cluster.dir, 'gateway');
    await mkdir(gwDir, { recursive: true });
    await writeGatewayUsers(join(gwDir, 'users.yaml'));
    gateway = await spawnGateway(gwDir, gatewayConfig(gwDir, sink.port));
    cleanup.push(() => gateway.stop());
    proxy = await spawnMember(join(cluster.dir, 'proxy-0.json'), {
      role: 'proxy',
      memberId: 'proxy-0',
      cluster: 'test',
      management: { host: '127.0.0.1', port: 0 },
      storage: { path: join(cluster.dir, 'proxy-0') },
      hubUrl: cluster.hubUrls[0],
      clusterTokenFile: join(cluster.dir, 'secrets', 'cluster-token'),
      listen: { imap: { host: '127.0.0.1', port: 0 }, pop3: { host: '127.0.0.1', port: 0 }, submission: { host: '127.0.0.1', port: 0 } },
    });
    cleanup.push(() => proxy.stop());

    // One message through the gateway to the LMTP sink: the delivery latency histogram gets its first sample.
    const { c } = await openSession(gateway.smtpPort);
    await command(c, 'MAIL FROM:<sender@example.net>');
    await command(c, 'RCPT TO:<alice@example.com>');
    expect((await data(c, message('monitoring-1'))).done.code).toBe(250);
    c.close();
    await sink.waitFor(1);

    const ports: Record<string, number> = {
      hub: hub.port('health'),
      node: node.port('health'),
      gateway: gateway.healthPort,
      proxy: Number(proxy.ready.healthPort),
    };
    for (const [role, port] of Object.entries(ports)) {
      expect(port, `${role} management port`).toBeGreaterThan(0);
    }
    // The gateway records the delivery just after the sink's 250: wait for it (bounded in count), not for a time.
    for (let i = 0; i < 600; i++) {
      const text = await (await fetch(`http://127.0.0.1:${ports.gateway}/metrics`)).text();
      if (sample(text, 'mailfleet_queue_delivery_seconds_count', { via: 'lmtp' }) === 1) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    for (const [role, port] of Object.entries(ports)) {
      const res = await fetch(`http://127.0.0.1:${port}/metrics`);
      expect(res.status).toBe(200);
      scraped.set(role, await res.text());
    }
  }, 120_000);

  afterAll(async () => {
    for (const c of cleanup.reverse()) await c().catch(() => undefined);
  });

  it('the rules', async () => {
    const exported = new Set([...scraped.values()].flatMap((t) => [...exportedNames(t)]));
    const used = (await rules()).groups.flatMap((g) => g.rules.flatMap((r) => metricNames(r.expr)));
    expect(used.length).toBeGreaterThan(5);
    const unknown = used.filter((n) => !exported.has(n) && !PROMETHEUS_SERIES.has(n));
    expect(unknown, `metrics no member exports: ${unknown.join(', ')}`).toEqual([]);
  });

  it('the dashboard', async () => {
    const exported = new Set([...scraped.values()].flatMap((t) => [...exportedNames(t)]));
    const used = dashboardExprs(await dashboard()).flatMap(metricNames);
    expect(used.length).toBeGreaterThan(10);
    const unknown = used.filter((n) => !exported.has(n) && !PROMETHEUS_SERIES.has(n));
    expect(unknown, `metrics no member exports: ${unknown.join(', ')}`).toEqual([]);
  });

  it('the label names their matchers use are on the scraped samples (where the member has samples of that metric yet)', async () => {
    const labels = new Map<string, Set<string>>();
    for (const text of scraped.values()) for (const [name, set] of sampleLabels(text)) labels.set(name, new Set([...(labels.get(name) ?? []), ...set]));
    const exprs = [...(await rules()).groups.flatMap((g) => g.rules.map((r) => r.expr)), ...dashboardExprs(await dashboard())];
    // job and instance are the scrape's labels, not the member's.
    const missing = exprs.flatMap(selectors).flatMap(({ name, labels: used }) => {
      const have = labels.get(name);
      return have ? used.filter((l) => l !== 'job' && l !== 'instance' && !have.has(l)).map((l) => `${name}{${l}}`) : [];
    });
    expect(missing).toEqual([]);
    // Checked, not vacuous: the transactions, deliveries, latency and certificate selectors had samples.
    for (const n of ['mailfleet_smtp_transactions_total', 'mailfleet_queue_deliveries_total', 'mailfleet_queue_delivery_seconds_bucket', 'mailfleet_tls_certificate_expiry_timestamp_seconds']) {
      expect(labels.has(n), n).toBe(true);
    }
    expect(selectors('rate(mailfleet_queue_deliveries_total{stauts="delivered"}[5m])')).toEqual([{ name: 'mailfleet_queue_deliveries_total', labels: ['stauts'] }]);
    expect(labels.get('mailfleet_queue_deliveries_total')!.has('stauts')).toBe(false);
  });

  it('the names check can fail: a made-up metric is reported', () => {
    const exported = new Set([...scraped.values()].flatMap((t) => [...exportedNames(t)]));
    expect(metricNames('rate(mailfleet_made_up_total[5m])').filter((n) => !exported.has(n))).toEqual(['mailfleet_made_up_total']);
  });

  it('storage: every member reports the free and total bytes of its storage filesystem', () => {
    for (const [role, text] of scraped) {
      const free = sample(text, 'mailfleet_storage_free_bytes', { role });
      const size = sample(text, 'mailfleet_storage_size_bytes', { role });
      expect(free, role).toBeGreaterThan(0);
      expect(size, role).toBeGreaterThanOrEqual(free!);
    }
  });

  it('certificate expiry: the node reports the notAfter of the certificate file it serves', async () => {
    const cert = new X509Certificate(await readFile(join(cluster.dir, 'tls', 'cert.pem')));
    const reported = sample(scraped.get('node')!, 'mailfleet_tls_certificate_expiry_timestamp_seconds', { role: 'node' });
    expect(reported).toBe(Date.parse(cert.validTo) / 1000);
    for (const role of ['gateway', 'proxy']) expect(sample(scraped.get(role)!, 'mailfleet_tls_certificate_expiry_timestamp_seconds', { role }), role).toBeGreaterThan(0);
  });

  it('delivery latency: the delivered message is one sample of the lmtp histogram', () => {
    const text = scraped.get('gateway')!;
    expect(sample(text, 'mailfleet_queue_delivery_seconds_count', { via: 'lmtp' })).toBe(1);
    expect(sample(text, 'mailfleet_queue_delivery_seconds_bucket', { via: 'lmtp', le: '+Inf' })).toBe(1);
    expect(sample(text, 'mailfleet_queue_delivery_seconds_count', { via: 'outbound' })).toBeUndefined();
  });
});
