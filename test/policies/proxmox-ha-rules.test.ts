import { beforeAll, describe, expect, it } from 'vitest';
import type { Capture } from '../../components/offline/capture';
import { PROXMOX } from '../../policies/lib/tokens';
import { check, clusterHarness, compliantSpec, editResources, modify, violated } from './helpers';

/**
 * failure-domains on Proxmox VE 9 (platform.proxmoxVersion: 9): the HA group
 * is gone, and the negative resource-affinity HA rules are what keeps HA from
 * restarting a failed host's VM next to another member of its role. The
 * compliant Proxmox VE 8 cluster is covered by the per-platform suite
 * (proxmox.test.ts).
 */

const capture = clusterHarness('proxmox');
const v9 = modify(compliantSpec('proxmox'), (s) => (s.platform.proxmoxVersion = 9));
const isApartRule = (role: string) => (r: { type: string; name: string }) => r.type === PROXMOX.haRule && r.name === `mail-px-${role}-ha-apart-0`;
let cap: Capture;

beforeAll(async () => {
  cap = await capture(v9);
});

describe('failure-domains on Proxmox VE 9 (HA rules)', () => {
  it('the compliant cluster with HA rules instead of the group passes every policy', async () => {
    expect(cap.duplicates).toEqual([]);
    expect(cap.resources.filter((r) => r.type === PROXMOX.haGroup)).toEqual([]);
    expect(cap.resources.filter((r) => r.type === PROXMOX.haRule).length).toBeGreaterThanOrEqual(10);
    expect(await check(cap)).toEqual([]);
  });

  it('without the gateways\' negative rule: failure-domains, naming the role', async () => {
    const graph = { resources: cap.resources.filter((r) => !isApartRule('gateway')(r)) };
    const results = await check(graph);
    expect(violated(results)).toEqual(['failure-domains']);
    expect(results[0]!.message).toMatch(/Proxmox VE 9.*keeps 2 of the 2 gateway VMs on different hosts/);
  });

  it('a disabled rule, or a positive one, does not count', async () => {
    const disabled = await check(editResources(cap, isApartRule('node'), (p) => (p.disable = true)));
    expect(violated(disabled)).toEqual(['failure-domains']);
    expect(disabled[0]!.message).toContain('node VMs');
    const positive = await check(editResources(cap, isApartRule('hub'), (p) => (p.affinity = 'positive')));
    expect(violated(positive)).toEqual(['failure-domains']);
  });

  it('on Proxmox VE 8 the group cannot express it, so only placement is checked', async () => {
    const v8graph = { resources: cap.resources.filter((r) => r.type !== PROXMOX.haRule) };
    const asV8 = editResources(v8graph, (r) => r.type === 'mailfleet:index:MailCluster', (p) => {
      if (p.spec?.platform) p.spec.platform.proxmoxVersion = 8;
    });
    expect(await check(asV8)).toEqual([]);
  });
});
