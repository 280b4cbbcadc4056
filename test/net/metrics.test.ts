import { X509Certificate } from 'node:crypto';
import { mkdtemp, rm, statfs } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { afterAll, describe, expect, it } from 'vitest';
import { loadTls, registerCertificateMetrics, registerStorageMetrics } from '../../mail-runtime/net';

/** The storage and certificate metrics the example alert rules read (examples/monitoring/alerts.yml). */
const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

async function values(registry: Registry): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const m of await registry.getMetricsAsJSON()) for (const v of m.values) out[m.name] = v.value;
  return out;
}

describe('storage metrics', () => {
  it('report statfs of the storage path: bytes available to the member and the filesystem size', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'mf-storage-metrics-'));
    dirs.push(dir);
    const registry = new Registry();
    registerStorageMetrics(registry, dir);
    const v = await values(registry);
    const s = await statfs(dir);
    expect(v.mailfleet_storage_size_bytes).toBe(s.blocks * s.bsize);
    expect(v.mailfleet_storage_free_bytes).toBeGreaterThan(0);
    expect(v.mailfleet_storage_free_bytes).toBeLessThanOrEqual(v.mailfleet_storage_size_bytes!);
  });

  it('an unreachable storage path reads as unknown (NaN), never as a full disk (0), and the scrape still answers', async () => {
    const registry = new Registry();
    registerStorageMetrics(registry, join(tmpdir(), 'mf-no-such-storage', String(process.pid)));
    const v = await values(registry);
    expect(v.mailfleet_storage_free_bytes).toBeNaN();
    expect(v.mailfleet_storage_size_bytes).toBeNaN();
    // prom-client writes `Nan`; Prometheus parses sample values with Go's strconv.ParseFloat, which takes NaN in any case.
    expect(await registry.metrics()).toMatch(/^mailfleet_storage_free_bytes nan$/im);
  });
});

describe('certificate metric', () => {
  it("is the served certificate's notAfter in seconds, labelled self-signed or not", async () => {
    const tls = await loadTls(undefined, 'metrics.test');
    const registry = new Registry();
    registerCertificateMetrics(registry, tls);
    const text = await registry.metrics();
    const notAfter = Date.parse(new X509Certificate(tls.cert).validTo) / 1000;
    expect(notAfter).toBeGreaterThan(Date.now() / 1000);
    expect(text).toContain(`mailfleet_tls_certificate_expiry_timestamp_seconds{self_signed="1"} ${notAfter}`);
    const other = new Registry();
    registerCertificateMetrics(other, { cert: tls.cert, selfSigned: false });
    expect(await other.metrics()).toContain(`mailfleet_tls_certificate_expiry_timestamp_seconds{self_signed="0"} ${notAfter}`);
  });
});
