import { beforeAll, describe, expect, it } from 'vitest';
import { APPLIANCE_SIZES, appliancePlan } from '../../../../components/appliances';
import { renderApplianceUserData } from '../../../../components/cloud-init';
import { MailCluster } from '../../../../components/mail-cluster';
import { proxmoxMockOutputs } from '../../../../components/platforms/proxmox/mocks';
import { installCapture, unwrapSecrets, type Capture, type CapturedResource } from '../../../../components/offline/capture';
import { commonMockOutputs, composeMockOutputs } from '../../../../components/offline/mock-outputs';
import { renderRuntimeConfigs } from '../../../../components/render';
import { parseClusterSpec, type ClusterSpecInput } from '../../../../components/spec';
import { cloudInitSchema, isValidCloudConfig } from '../../cloud-init/validate';
import { PROXMOX_CREDENTIALS, proxmoxSpec } from './fixtures';

/**
 * clamd and rspamd beside the gateways on Proxmox: one appliance VM per
 * site at the appliance block of the address and VM id plan (firstAddress /
 * firstVmId + 25), in the HA group, set up from Debian's packages by
 * cloud-init; the gateways point at it.
 */

const run = installCapture({ stack: 'ha-proxmox', outputsFor: composeMockOutputs(commonMockOutputs, proxmoxMockOutputs) });

const T = { vm: 'proxmoxve:index/vmLegacy:VmLegacy', file: 'proxmoxve:index/fileLegacy:FileLegacy', ha: 'proxmoxve:index/haresource:Haresource' } as const;

const FILTERS = {
  dkim: { selector: 'mf1' },
  antivirus: { kind: 'clamd' as const, deploy: true, updates: { mode: 'mirror' as const, mirror: 'https://clamav-mirror.example.net/' } },
  spam: { kind: 'rspamd' as const, deploy: true, offline: true },
};
const specWith = (overrides: Partial<ClusterSpecInput> = {}) => proxmoxSpec(3, { filters: FILTERS, ...overrides });
const build = (spec: ClusterSpecInput) => run(() => new MailCluster('mail', { spec, credentials: PROXMOX_CREDENTIALS }).appliances);

const byName = (c: Capture, n: string) => {
  const r = c.resources.find((x) => x.name === n);
  if (!r) throw new Error(`no resource ${n}`);
  return r;
};
const vmInputs = (r: CapturedResource) =>
  unwrapSecrets(r.inputs) as { vmId: number; name: string; nodeName: string; cpu: { cores: number }; memory: { dedicated: number }; disks: { size: number }[]; initialization: { userDataFileId: string; ipConfigs: { ipv4: { address: string } }[] }; tags: string[] };
const userDataOf = (c: Capture, vm: CapturedResource) => {
  const file = c.resources.find((f) => f.type === T.file && `${f.name}-id` === vmInputs(vm).initialization.userDataFileId)!;
  return (unwrapSecrets(file.inputs.sourceRaw) as { data: string }).data;
};

let cap: Capture;
beforeAll(async () => {
  cap = await build(specWith());
});

describe('proxmox: the appliance VM beside the gateways', () => {
  it('one VM at firstAddress + 25 with VM id firstVmId + 25, in the HA group, child of the Gateway component', () => {
    expect(cap.duplicates).toEqual([]);
    const vm = byName(cap, 'mail-gateway-appliance-0');
    expect(vm.parent).toBe(byName(cap, 'mail-gateway').urn);
    const v = vmInputs(vm);
    expect(v).toMatchObject({ vmId: 4025, name: 'mail-px-appliance-0', nodeName: 'pve1' });
    expect(v.initialization.ipConfigs).toEqual([{ ipv4: { address: '10.40.0.35/24', gateway: '10.40.0.1' } }]);
    expect({ cpu: v.cpu.cores, memory: v.memory.dedicated, disk: v.disks[0]!.size }).toEqual({ cpu: APPLIANCE_SIZES.vm.cpu, memory: APPLIANCE_SIZES.vm.memoryMiB, disk: APPLIANCE_SIZES.vm.diskGiB });
    expect(v.tags).toEqual(['mailfleet', 'mail-px', 'appliance']);
    expect(byName(cap, 'mail-gateway-appliance-0-ha').inputs).toMatchObject({ resourceId: 'vm:4025', group: 'mailfleet-mail-px', state: 'started' });
    // The node-local snippets datastore: a copy of the user data on each node.
    expect(cap.resources.filter((r) => r.type === T.file && r.name.startsWith('mail-gateway-appliance-0-user-data-'))).toHaveLength(3);
  });

  it('its user data is what the cloud-init renderer makes of the plan, and cloud-init accepts it', () => {
    const spec = parseClusterSpec(specWith());
    const plan = appliancePlan(spec, 'vm');
    const text = userDataOf(cap, byName(cap, 'mail-gateway-appliance-0'));
    expect(text).toBe(
      renderApplianceUserData({ hostname: 'mail-px-appliance-0', cluster: 'mail-px', domain: 'example.net', clamd: plan.clamd, rspamd: plan.rspamd, extraPackages: ['qemu-guest-agent'] }),
    );
    expect(text).toContain('PrivateMirror https://clamav-mirror.example.net/');
    const r = cloudInitSchema(text);
    expect(isValidCloudConfig(r), r.output).toBe(true);
  });

  it('the gateways scan at the appliance VM', () => {
    const gateways = renderRuntimeConfigs(parseClusterSpec(specWith())).filter((m) => m.role === 'gateway');
    expect(gateways).toHaveLength(2);
    for (const g of gateways) {
      if (g.config.role !== 'gateway') throw new Error('role');
      expect(g.config.filters.clamd?.address).toBe('10.40.0.35:3310');
      expect(g.config.filters.spam?.address).toBe('10.40.0.35:11333');
    }
    const root = cap.resources.find((r) => r.type === MailCluster.type)!;
    expect((root.outputs.appliances as { address: string }[]).map((a) => a.address)).toEqual(['10.40.0.35:3310', '10.40.0.35:11333']);
  });

  it('scaling gateways 2 → 3 adds one gateway VM and leaves the appliance VM (and everything else) as it was', async () => {
    const three = await build(specWith({ gateways: { count: 3 } }));
    const before = new Map(cap.resources.map((r) => [r.urn, r]));
    const added = three.resources.filter((r) => !before.has(r.urn)).map((r) => r.name);
    expect(added.filter((n) => !n.startsWith('mail-gateway-2'))).toEqual([]);
    expect(vmInputs(byName(three, 'mail-gateway-appliance-0'))).toEqual(vmInputs(byName(cap, 'mail-gateway-appliance-0')));
    expect(vmInputs(byName(three, 'mail-gateway-2'))).toMatchObject({ vmId: 4012 });
  });

  it('the address plan: at most 15 gateways with appliances (20 without), and nothing else may sit on the appliance\'s address or VM id', () => {
    expect(() => parseClusterSpec(specWith({ gateways: { count: 16 } }))).toThrow(
      'gateways.count: at most 15 gateways fit the VM address plan with deployed appliances (filters.*.deploy): gateways take firstAddress + 10…24, the clamd/rspamd VMs + 25…29',
    );
    expect(() => parseClusterSpec(specWith({ gateways: { count: 15 } }))).not.toThrow();
    expect(() => parseClusterSpec(proxmoxSpec(3, { gateways: { count: 20 } }))).not.toThrow();
    const base = proxmoxSpec(3) as Record<string, any>;
    expect(() => parseClusterSpec(specWith({ loadBalancer: { kind: 'haproxy', replicas: 2, vip: '10.40.0.35' } }))).toThrow('loadBalancer.vip: 10.40.0.35 is already the address of mail-px-appliance-0');
    expect(() => parseClusterSpec(specWith({ platform: { ...base.platform, templateVmId: 4025 } }))).toThrow(
      'platform.templateVmId: 4025 is also the VM id of mail-px-appliance-0 (firstVmId 4000 + 25 + 0); move firstVmId or name another template',
    );
    expect(() => parseClusterSpec(specWith({ platform: { ...base.platform, network: { ...base.platform.network, gateway: '10.40.0.35' } } }))).toThrow(
      'platform.network.gateway: 10.40.0.35 is also the address of mail-px-appliance-0',
    );
  });
});
