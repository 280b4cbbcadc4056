import YAML from 'yaml';
import { beforeAll, describe, expect, it } from 'vitest';
import { APPLIANCE_SIZES, appliancePlan } from '../../../../components/appliances';
import { APPLIANCE_CONFIG_DIR, RSPAMD_LOCAL_DIR, renderApplianceUserData, type CloudConfig } from '../../../../components/cloud-init';
import { MailCluster } from '../../../../components/mail-cluster';
import { decodeGuestinfo } from '../../../../components/platforms/vsphere';
import { unwrapSecrets, type CapturedResource } from '../../../../components/offline/capture';
import { renderRuntimeConfigs } from '../../../../components/render';
import { parseClusterSpec, type ClusterSpecInput } from '../../../../components/spec';
import { cloudInitSchema, isValidCloudConfig } from '../../cloud-init/validate';
import { VSPHERE_CREDENTIALS, exampleSpec, installVsphereCapture } from './harness';
import { loadSchema, checkResource } from './schema-check';

/**
 * clamd and rspamd beside the gateways on vSphere (examples/specs/vsphere-ha.yaml
 * deploys both, air-gapped): one appliance VM per site cloned from the
 * template, its user data through guestinfo, at firstAddress + 25.
 */

const harness = installVsphereCapture();
type Cap = Awaited<ReturnType<typeof harness.run>>;
const VM = 'vsphere:index/virtualMachine:VirtualMachine';
const RULE = 'vsphere:index/computeClusterVmAntiAffinityRule:ComputeClusterVmAntiAffinityRule';

const named = (c: Cap, name: string): CapturedResource => {
  const r = c.resources.find((x) => x.name === name);
  if (!r) throw new Error(`no resource ${name}`);
  return r;
};
const plain = (r: CapturedResource) => unwrapSecrets(r.inputs) as Record<string, any>;
const build = (spec: ClusterSpecInput) => harness.run(() => new MailCluster('mail', { spec, credentials: VSPHERE_CREDENTIALS }).appliances);

let cap: Cap;
beforeAll(async () => {
  cap = await build(exampleSpec());
});

describe('vsphere: the appliance VM beside the gateways (examples/specs/vsphere-ha.yaml)', () => {
  it('one VM `mail-vs-appliance-0` at 10.40.0.35, sized for clamd and rspamd, conforming to the provider schema', () => {
    expect(cap.duplicates).toEqual([]);
    const vm = named(cap, 'mail-gateway-appliance-0');
    expect(vm.parent).toBe(named(cap, 'mail-gateway').urn);
    const i = plain(vm);
    expect(i).toMatchObject({ name: 'mail-vs-appliance-0', numCpus: APPLIANCE_SIZES.vm.cpu, memory: APPLIANCE_SIZES.vm.memoryMiB, folder: 'mailfleet' });
    expect(i.annotation).toContain('10.40.0.35');
    const { metadata } = decodeGuestinfo(i.extraConfig);
    expect(Object.values(metadata.network.ethernets)[0]!.addresses).toEqual(['10.40.0.35/23']);
    expect(metadata['local-hostname']).toBe('mail-vs-appliance-0');
    // One site, one VM: no DRS rule for it.
    expect(cap.resources.filter((r) => r.type === RULE && r.name.includes('appliance'))).toEqual([]);
    expect(checkResource(loadSchema(), VM, vm.inputs, vm.name)).toEqual([]);
  });

  it('its guestinfo user data is the renderer\'s (air-gapped: mirror, rspamd offline) and cloud-init accepts it', () => {
    const spec = parseClusterSpec(exampleSpec());
    const plan = appliancePlan(spec, 'vm');
    const { userData } = decodeGuestinfo(plain(named(cap, 'mail-gateway-appliance-0')).extraConfig);
    expect(userData).toBe(renderApplianceUserData({ hostname: 'mail-vs-appliance-0', cluster: 'mail-vs', clamd: plan.clamd, rspamd: plan.rspamd }));
    const doc = YAML.parse(userData) as CloudConfig;
    expect(doc.write_files.find((f) => f.path === `${APPLIANCE_CONFIG_DIR}/freshclam.conf`)!.content).toMatch(/^PrivateMirror https:\/\/clamav-mirror\.corp\.example\.com\/$/m);
    expect(doc.write_files.find((f) => f.path === `${RSPAMD_LOCAL_DIR}/rbl.conf`)!.content).toMatch(/^enabled = false;$/m);
    const r = cloudInitSchema(userData);
    expect(isValidCloudConfig(r), r.output).toBe(true);
  });

  it('the gateways scan at the appliance VM', () => {
    for (const g of renderRuntimeConfigs(parseClusterSpec(exampleSpec())).filter((m) => m.role === 'gateway')) {
      if (g.config.role !== 'gateway') throw new Error('role');
      expect([g.config.filters.clamd?.address, g.config.filters.spam?.address]).toEqual(['10.40.0.35:3310', '10.40.0.35:11333']);
    }
  });

  it('clamd only: the VM runs clamd alone; without deploy there is no appliance VM', async () => {
    const clamdOnly = await build({ ...exampleSpec(), filters: { antivirus: { kind: 'clamd', deploy: true } } });
    const doc = YAML.parse(decodeGuestinfo(plain(named(clamdOnly, 'mail-gateway-appliance-0')).extraConfig).userData) as CloudConfig;
    expect(doc.packages).toEqual(['clamav-daemon', 'clamav-freshclam']);
    const none = await build({ ...exampleSpec(), filters: { antivirus: { kind: 'clamd', address: '10.40.0.240:3310' } } });
    expect(none.resources.filter((r) => r.type === VM).map((r) => r.name)).not.toContain('mail-gateway-appliance-0');
  });
});
