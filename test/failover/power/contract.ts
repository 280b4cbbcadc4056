import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { PowerTarget } from '../../../mail-runtime/config';
import { PowerError, powerAdapter, type PowerAdapter } from '../../../mail-runtime/failover/power';
import type { FakeApi, Fixture } from '../../helpers/fake-power-api';

/**
 * What every power adapter must do against its platform's API (a local
 * server speaking the documented paths and payloads): a confirmed, idempotent
 * power-off and power-on, and a named error for every way the API refuses.
 */
export interface PlatformCase {
  name: string;
  fixture: Fixture;
  /** Starts the fake platform with the right credential. */
  start(dir: string): Promise<FakeApi>;
  /** The adapter's config (unparsed) for the fake at `base`, with the credential file in `dir`. */
  target(base: string, dir: string, o: { wrongSecret?: boolean; missing?: boolean; confirmTimeoutMs?: number; requestTimeoutMs?: number }): unknown;
  /** An endpoint nothing listens on. */
  deadEndpoint(dir: string): string;
  /**
   * The operation whose result the platform reports late (default powerOff).
   * Docker answers a stop only once the container has exited, so there only
   * a start can be seen under way.
   */
  settles?: 'powerOff' | 'powerOn';
  /** The platform has no credential of its own (Docker: access to the engine's socket is the grant). */
  noCredential?: boolean;
}

export function secretFile(dir: string, name: string, value: string): string {
  const p = path.join(dir, name);
  writeFileSync(p, `${value}\n`, { mode: 0o600 });
  return p;
}

async function code(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    if (e instanceof PowerError) return `${e.code}: ${e.message}`;
    throw e;
  }
  return 'resolved';
}

export function powerContract(c: PlatformCase): void {
  describe(`${c.name} power adapter (contract)`, () => {
    let dir: string;
    let api: FakeApi;
    const adapters: PowerAdapter[] = [];
    const make = (o: Parameters<PlatformCase['target']>[2] = {}, base = api.base) => {
      const a = powerAdapter(PowerTarget.parse(c.target(base, dir, o)));
      adapters.push(a);
      return a;
    };
    beforeEach(async () => {
      dir = mkdtempSync(path.join(tmpdir(), `mf-power-${c.name}-`));
      api = await c.start(dir);
    });
    afterEach(async () => {
      for (const a of adapters.splice(0)) await a.close();
      await api.close();
    });

    it('fences a running member and confirms it stopped; stopping again succeeds', async () => {
      api.setRunning(true);
      const a = make();
      expect(await a.state()).toBe('running');
      await a.powerOff();
      expect(api.isRunning()).toBe(false);
      expect(await a.state()).toBe('stopped');
      await a.powerOff();
      expect(api.isRunning()).toBe(false);
    });

    it('starts a stopped member and confirms it running; starting again succeeds', async () => {
      api.setRunning(false);
      const a = make();
      await a.powerOn();
      expect(api.isRunning()).toBe(true);
      await a.powerOn();
      expect(await a.state()).toBe('running');
    });

    const settles = c.settles ?? 'powerOff';
    it(`waits until the platform reports the new state, polling (${settles})`, async () => {
      api.setRunning(settles === 'powerOff');
      api.settlePolls = 3;
      const a = make();
      await a[settles]();
      expect(api.isRunning()).toBe(settles === 'powerOn');
      const reads = api.requests.filter((r) => r.method === 'GET').length;
      expect(reads).toBeGreaterThanOrEqual(4);
    });

    it('fails UNCONFIRMED when the new state never shows', async () => {
      api.setRunning(settles === 'powerOff');
      api.settlePolls = 1_000_000;
      expect(await code(make({ confirmTimeoutMs: 300 })[settles]())).toMatch(/^UNCONFIRMED: .*still (running|stopped|transitioning)/);
    });

    it('sends the documented requests', async () => {
      api.setRunning(true);
      await make().powerOff();
      api.setRunning(false);
      await make().powerOn();
      const seen = api.requests.map((r) => `${r.method} ${r.url}`);
      for (const [name, want] of Object.entries(c.fixture.requests)) {
        if (name.startsWith('alt') || (name === 'shutdown' && c.name === 'proxmox') || name === 'getDeploymentScale' || name === 'logout') continue;
        const match = api.requests.find((r) => r.method === want.method && r.url === want.path);
        expect(match, `${name}: ${want.method} ${want.path} not among ${seen.join(', ')}`).toBeDefined();
        for (const [h, v] of Object.entries(want.headers ?? {})) {
          if (v.includes('<')) expect(match!.headers[h], h).toMatch(new RegExp(`^${v.split('<')[0]!.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
          else expect(match!.headers[h], h).toBe(v);
        }
        if (want.body !== undefined) {
          if (typeof want.body === 'string') expect(match!.body).toBe(want.body);
          else if (want.method === 'PATCH') expect(JSON.parse(match!.body)).toEqual(want.body);
        }
      }
    });

    // Docker has no credential to get wrong; its 403 (an authorisation plugin) is the next test.
    if (!c.noCredential) it('reports a wrong credential as AUTH', async () => {
      api.setRunning(true);
      expect(await code(make({ wrongSecret: true }).powerOff())).toMatch(/^AUTH: .*401/);
      expect(api.isRunning()).toBe(true);
    });

    it('reports a missing grant as AUTH (403)', async () => {
      api.setRunning(true);
      api.mode = 'forbidden';
      expect(await code(make().powerOff())).toMatch(/^AUTH: .*403/);
      expect(api.isRunning()).toBe(true);
    });

    it('reports an unknown workload/VM/container as NOT_FOUND', async () => {
      expect(await code(make({ missing: true }).state())).toMatch(/^NOT_FOUND: /);
    });

    it('reports an API that never answers as TIMEOUT', async () => {
      api.mode = 'hang';
      expect(await code(make({ requestTimeoutMs: 200 }).powerOff())).toMatch(/^TIMEOUT: .*no answer within 200 ms/);
    });

    it('reports an API nobody listens on as UNREACHABLE', async () => {
      expect(await code(make({}, c.deadEndpoint(dir)).state())).toMatch(/^UNREACHABLE: /);
    });
  });
}
