import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import YAML from 'yaml';
import { beforeAll, describe, expect, it } from 'vitest';
import { HAPROXY_CONFIG_PATH, KEEPALIVED_CONFIG_PATH, memberConfigPath, type CloudConfig } from '../../../../components/cloud-init';
import { KEEPALIVED_AUTH_FILE } from '../../../../components/haproxy';
import { MailCluster } from '../../../../components/mail-cluster';
import { GUESTINFO, decodeGuestinfo, type GuestMetadata } from '../../../../components/platforms/vsphere';
import { FUNCTION_TOKENS } from '../../../../components/platforms/vsphere/binding';
import { vsphereMockInvokes } from '../../../../components/platforms/vsphere/mocks';
import { isSecretValue, unwrapSecrets, type CapturedResource } from '../../../../components/offline/capture';
import { commonMockOutputs } from '../../../../components/offline/mock-outputs';
import { renderRuntimeConfigs, type RenderedMember } from '../../../../components/render';
import { parseClusterSpec, type ClusterSpecInput } from '../../../../components/spec';
import { parseRuntimeConfig } from '../../../../mail-runtime/config';
import { cloudInitSchema, isValidCloudConfig } from '../../cloud-init/validate';
import { renderWithCloudInit } from './cloud-init-network';
import { CREDENTIALS, VSPHERE_CREDENTIALS, exampleSpec, installVsphereCapture } from './harness';

const harness = installVsphereCapture();
type Cap = Awaited<ReturnType<typeof harness.run>>;

const VM = 'vsphere:index/virtualMachine:VirtualMachine';
const RULE = 'vsphere:index/computeClusterVmAntiAffinityRule:ComputeClusterVmAntiAffinityRule';
const PROVIDER = 'pulumi:providers:vsphere';

let cap: Cap;
let members: RenderedMember[];
const inv = (token: string, name: string) => vsphereMockInvokes(token, { name })!;

const ofType = (c: Cap, type: string) => c.resources.filter((r) => r.type === type);
const named = (c: Cap, name: string): CapturedResource => {
  const r = c.resources.find((x) => x.name === name);
  if (!r) throw new Error(`no resource ${name}`);
  return r;
};
const plain = (r: CapturedResource) => unwrapSecrets(r.inputs) as Record<string, unknown>;
function guest(r: CapturedResource): { userData: string; doc: CloudConfig; metadata: GuestMetadata } {
  const { userData, metadata } = decodeGuestinfo(plain(r).extraConfig as Record<string, unknown>);
  return { userData, doc: YAML.parse(userData) as CloudConfig, metadata };
}
const file = (doc: CloudConfig, path: string) => doc.write_files.find((f) => f.path === path);

function withNodes(count: number): ClusterSpecInput {
  const s = exampleSpec() as ClusterSpecInput & { nodes: Record<string, unknown> };
  return { ...s, nodes: { ...s.nodes, count } };
}

beforeAll(async () => {
  members = renderRuntimeConfigs(parseClusterSpec(exampleSpec()));
  cap = await harness.run(() => {
    const c = new MailCluster('mail', { spec: exampleSpec(), credentials: VSPHERE_CREDENTIALS });
    return { endpoints: c.endpoints, adminToken: c.adminToken, members: c.members };
  });
});

describe('vSphere HA cluster (examples/specs/vsphere-ha.yaml, 3 nodes)', () => {
  it('registers the expected resource types and counts, no duplicates', () => {
    expect(cap.duplicates).toEqual([]);
    const counts: Record<string, number> = {};
    for (const r of cap.resources.filter((x) => x.type.includes('vsphere'))) counts[r.type] = (counts[r.type] ?? 0) + 1;
    // 2 hubs + 3 nodes + 2 gateways + 2 proxies + 2 HAProxy VMs + the appliance VM (clamd, rspamd);
    // a rule per role with 2+ VMs; one provider.
    expect(counts).toEqual({ [VM]: 12, [RULE]: 5, [PROVIDER]: 1 });
    expect(ofType(cap, 'random:index/randomPassword:RandomPassword').map((r) => r.name).sort()).toEqual(['mail-admin-token', 'mail-cluster-token', 'mail-lb-vrrp-password']);
  });

  it('names VMs `${name}-<role>-<i>`, parents them to their role component, and uses the explicit provider', () => {
    const vmNames = ofType(cap, VM).map((r) => r.name).sort();
    expect(vmNames).toEqual(
      ['mail-hub-0', 'mail-hub-1', 'mail-node-0', 'mail-node-1', 'mail-node-2', 'mail-gateway-0', 'mail-gateway-1', 'mail-proxy-0', 'mail-proxy-1', 'mail-lb-0', 'mail-lb-1', 'mail-gateway-appliance-0'].sort(),
    );
    // The appliance VM beside the gateways is the Gateway component's child, named after it.
    expect(named(cap, 'mail-gateway-appliance-0').parent).toBe(named(cap, 'mail-gateway').urn);
    expect(plain(named(cap, 'mail-gateway-appliance-0')).name).toBe('mail-vs-appliance-0');
    const provider = ofType(cap, PROVIDER)[0]!;
    expect(provider.parent).toBe(named(cap, 'mail').urn);
    for (const r of [...ofType(cap, VM), ...ofType(cap, RULE)]) {
      expect(r.options.provider, r.name).toMatch(new RegExp(`^${provider.urn.replace(/[$]/g, '\\$')}::`));
    }
    expect(named(cap, 'mail-node-2').parent).toBe(named(cap, 'mail-node').urn);
    expect(named(cap, 'mail-lb-1').parent).toBe(named(cap, 'mail-lb').urn);
    // vCenter names are the member ids (host names), not the Pulumi names.
    expect(plain(named(cap, 'mail-node-2')).name).toBe('mail-vs-node-2');
    expect(plain(named(cap, 'mail-lb-0')).name).toBe('mail-vs-lb-0');
  });

  it('clones every VM from the template into the cluster resource pool, datastore, port group and folder', () => {
    const template = inv(FUNCTION_TOKENS.getVirtualMachine, 'debian-12-cloudinit');
    const cluster = inv(FUNCTION_TOKENS.getComputeCluster, 'compute-a');
    for (const r of ofType(cap, VM)) {
      const i = plain(r);
      expect(i.clone, r.name).toEqual({ templateUuid: template.id });
      expect(i.resourcePoolId).toBe(cluster.resourcePoolId);
      expect(i.datastoreId).toBe(inv(FUNCTION_TOKENS.getDatastore, 'vsan-a').id);
      expect(i.folder).toBe('mailfleet');
      expect(i).toMatchObject({ guestId: template.guestId, firmware: template.firmware, scsiType: template.scsiType });
      const nics = i.networkInterfaces as Record<string, unknown>[];
      expect(nics).toHaveLength(1);
      expect(nics[0]).toMatchObject({ networkId: inv(FUNCTION_TOKENS.getNetwork, 'mail-pg').id, adapterType: 'vmxnet3', useStaticMac: true });
      expect(nics[0]!.macAddress).toMatch(/^00:50:56:[0-3][0-9a-f](:[0-9a-f]{2}){2}$/);
    }
    const macs = ofType(cap, VM).map((r) => (plain(r).networkInterfaces as { macAddress: string }[])[0]!.macAddress);
    expect(new Set(macs).size).toBe(macs.length);
    // The data sources were looked up in the named datacenter.
    const dc = inv(FUNCTION_TOKENS.getDatacenter, 'dc1').id;
    expect(cap.invokes.filter((x) => x.token !== FUNCTION_TOKENS.getDatacenter).every((x) => x.args.datacenterId === dc)).toBe(true);
  });

  it('sizes VMs from the role sizes (the root disk never below the template disk)', () => {
    const size = (n: string) => {
      const i = plain(named(cap, n));
      return { cpu: i.numCpus, mem: i.memory, disk: (i.disks as { size: number }[])[0]!.size, disks: (i.disks as unknown[]).length };
    };
    expect(size('mail-node-0')).toEqual({ cpu: 4, mem: 8192, disk: 20, disks: 1 });
    expect(size('mail-gateway-1')).toEqual({ cpu: 1, mem: 2048, disk: 20, disks: 1 });
    // Hubs ask for 10 GiB; the template disk is 16 GiB and a clone cannot shrink it.
    expect(size('mail-hub-0')).toEqual({ cpu: 1, mem: 1024, disk: 16, disks: 1 });
    expect(size('mail-lb-0')).toEqual({ cpu: 1, mem: 512, disk: 16, disks: 1 });
    expect((plain(named(cap, 'mail-node-0')).disks as Record<string, unknown>[])[0]).toMatchObject({ label: 'disk0', thinProvisioned: true, unitNumber: 0 });
  });

  it('keeps the node VMs apart with a DRS anti-affinity rule over all of their ids, and every other role too', () => {
    const cluster = inv(FUNCTION_TOKENS.getComputeCluster, 'compute-a');
    const rule = plain(named(cap, 'mail-node-anti-affinity'));
    // The mock monitor gives each resource the id `${name}-id`.
    expect(rule).toEqual({
      computeClusterId: cluster.id,
      virtualMachineIds: ['mail-node-0-id', 'mail-node-1-id', 'mail-node-2-id'],
      name: 'mail-vs-node-anti-affinity',
      enabled: true,
      mandatory: false,
    });
    for (const role of ['hub', 'gateway', 'proxy', 'lb']) {
      expect(plain(named(cap, `mail-${role}-anti-affinity`)).virtualMachineIds, role).toEqual([`mail-${role}-0-id`, `mail-${role}-1-id`]);
    }
    // The rule depends on the VMs (their ids are its inputs).
    expect(named(cap, 'mail-node-anti-affinity').options.dependsOn).toEqual(expect.arrayContaining([named(cap, 'mail-node-0').urn]));
  });

  it('hands cloud-init its data through guestinfo, base64, as one secret extraConfig', () => {
    for (const r of ofType(cap, VM)) {
      expect(isSecretValue(r.inputs.extraConfig), r.name).toBe(true);
      const extra = plain(r).extraConfig as Record<string, string>;
      expect(Object.keys(extra).sort()).toEqual([GUESTINFO.metadata, GUESTINFO.metadataEncoding, GUESTINFO.userdata, GUESTINFO.userdataEncoding].sort());
      expect(extra[GUESTINFO.userdataEncoding]).toBe('base64');
      expect(extra[GUESTINFO.metadataEncoding]).toBe('base64');
      expect(guest(r).userData.startsWith('#cloud-config\n')).toBe(true);
    }
  });

  it('ships every member exactly its rendered RuntimeConfig, valid for the runtime', () => {
    const shipped = members.map((m) => {
      const { doc } = guest(named(cap, `mail-${m.role}-${m.index}`));
      const f = file(doc, memberConfigPath(m.memberId));
      expect(f, m.memberId).toBeDefined();
      const config = parseRuntimeConfig(JSON.parse(f!.content), `shipped config of ${m.memberId}`);
      expect(config).toEqual(m.config);
      return config.memberId;
    });
    expect(shipped).toHaveLength(9);
  });

  it('gives each VM its static address, host name and a cloud-init network config cloud-init itself renders', () => {
    for (const m of members) {
      const r = named(cap, `mail-${m.role}-${m.index}`);
      const { metadata } = guest(r);
      expect(metadata['local-hostname']).toBe(m.memberId);
      expect(metadata['instance-id'].startsWith(`${m.memberId}-`)).toBe(true);
      const eth = metadata.network.ethernets.lan0!;
      expect(eth.addresses).toEqual([`${m.address}/23`]);
      expect(eth.routes).toEqual([{ to: '0.0.0.0/0', via: '10.40.0.1' }]);
      expect(eth.match.macaddress).toBe((plain(r).networkInterfaces as { macAddress: string }[])[0]!.macAddress);
    }
    const node0 = guest(named(cap, 'mail-node-0')).metadata;
    const eni = renderWithCloudInit(node0.network);
    expect(eni).toMatch(/^iface lan0 inet static$/m);
    expect(eni).toMatch(/address 10\.40\.0\.60\/23/);
    expect(eni).toMatch(/default gw 10\.40\.0\.1/);
  });

  it('never puts a secret in clear into any input, while the VMs do receive them', () => {
    const common = (type: string, name: string) => commonMockOutputs(type, name, {}) as Record<string, string>;
    const clusterToken = common('random:index/randomPassword:RandomPassword', 'mail-cluster-token').result!;
    const adminToken = unwrapSecrets(cap.outputs.adminToken) as string;
    const tlsKey = common('tls:index/privateKey:PrivateKey', 'mail-tls-key').privateKeyPem!;
    const secrets = [clusterToken, adminToken, tlsKey.split('\n')[1]!, CREDENTIALS['vsphere:password']];
    expect(isSecretValue(cap.outputs.adminToken)).toBe(true);
    for (const r of cap.resources) {
      for (const [k, v] of Object.entries(r.inputs)) {
        if (isSecretValue(v)) continue;
        const text = JSON.stringify(v) ?? '';
        for (const s of secrets) expect(text.includes(s), `${r.name}.${k} carries a secret in clear`).toBe(false);
      }
    }
    expect(isSecretValue(ofType(cap, PROVIDER)[0]!.inputs.password)).toBe(true);
    // The check above means something: the secrets are really delivered, as 0600 files.
    const hub = guest(named(cap, 'mail-hub-0')).doc;
    expect(file(hub, '/etc/mailfleet/secrets/admin-token')).toMatchObject({ content: adminToken, permissions: '0600' });
    expect(file(hub, '/etc/mailfleet/secrets/cluster-token')?.content).toBe(clusterToken);
    expect(file(guest(named(cap, 'mail-node-1')).doc, '/etc/mailfleet/tls/tls.key')?.content).toBe(tlsKey);
    // Only hubs get the admin token.
    expect(file(guest(named(cap, 'mail-node-1')).doc, '/etc/mailfleet/secrets/admin-token')).toBeUndefined();
  });

  it('mounts the NFS export in every member guest (no NFS datastore)', () => {
    for (const m of members) {
      const { doc } = guest(named(cap, `mail-${m.role}-${m.index}`));
      expect(doc.mounts?.[0]?.slice(0, 3), m.memberId).toEqual(['10.40.0.5:/export/mail', '/var/lib/mailfleet', 'nfs4']);
    }
    expect(cap.resources.some((r) => r.type === 'vsphere:index/nasDatastore:NasDatastore')).toBe(false);
  });

  it('user data passes cloud-init schema validation (member and load balancer)', () => {
    for (const name of ['mail-node-0', 'mail-lb-0']) {
      const result = cloudInitSchema(guest(named(cap, name)).userData);
      expect(isValidCloudConfig(result), `${name}: ${result.output}`).toBe(true);
    }
  });
});

describe('HAProxy + keepalived load balancer', () => {
  it('puts the HAProxy VMs at firstAddress + 5 + i and the client endpoints on the VIP', () => {
    expect(guest(named(cap, 'mail-lb-0')).metadata.network.ethernets.lan0!.addresses).toEqual(['10.40.0.15/23']);
    expect(guest(named(cap, 'mail-lb-1')).metadata.network.ethernets.lan0!.addresses).toEqual(['10.40.0.16/23']);
    const endpoints = cap.outputs.endpoints as Record<string, string>;
    expect(endpoints).toMatchObject({ smtp: '10.40.0.8:25', submission: '10.40.0.8:587', imaps: '10.40.0.8:993', imap: '10.40.0.8:143' });
    // The HAProxy VMs come after the members they front.
    expect(named(cap, 'mail-lb-0').options.dependsOn).toEqual(expect.arrayContaining([named(cap, 'mail-proxy-0').urn, named(cap, 'mail-gateway-1').urn]));
  });

  it('renders a config HAProxy accepts, forwarding to the proxies and gateways and never to the hub', () => {
    const cfg = file(guest(named(cap, 'mail-lb-0')).doc, HAPROXY_CONFIG_PATH)!.content;
    for (const m of members.filter((x) => x.role === 'proxy')) expect(cfg).toContain(`${m.address}:993`);
    for (const m of members.filter((x) => x.role === 'gateway')) expect(cfg).toContain(`${m.address}:25`);
    for (const m of members.filter((x) => x.role === 'hub')) expect(cfg).not.toContain(m.address);
    const dir = mkdtempSync(join(tmpdir(), 'mailfleet-vsphere-haproxy-'));
    try {
      writeFileSync(join(dir, 'haproxy.cfg'), cfg);
      const r = spawnSync('haproxy', ['-c', '-f', join(dir, 'haproxy.cfg')], { encoding: 'utf8', timeout: 30_000 });
      expect(r.status, `${r.stdout}${r.stderr}`).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('moves the VIP with keepalived over the fixed guest interface, each replica peering with the other', () => {
    const k0 = file(guest(named(cap, 'mail-lb-0')).doc, KEEPALIVED_CONFIG_PATH)!.content;
    const k1 = file(guest(named(cap, 'mail-lb-1')).doc, KEEPALIVED_CONFIG_PATH)!.content;
    expect(k0).toContain('10.40.0.8/23 dev lan0');
    expect(k0).toMatch(/interface lan0/);
    expect(k0).toMatch(/unicast_src_ip 10\.40\.0\.15/);
    expect(k0).toMatch(/unicast_peer \{\s+10\.40\.0\.16\s+\}/);
    expect(k1).toMatch(/unicast_peer \{\s+10\.40\.0\.15\s+\}/);
    expect(Number(/priority (\d+)/.exec(k0)![1])).toBeGreaterThan(Number(/priority (\d+)/.exec(k1)![1]));
    expect(/virtual_router_id (\d+)/.exec(k0)![1]).toBe(/virtual_router_id (\d+)/.exec(k1)![1]);
    const auth = file(guest(named(cap, 'mail-lb-0')).doc, KEEPALIVED_AUTH_FILE)!;
    expect(auth.permissions).toBe('0600');
    expect(auth.content).toMatch(/^auth_pass \S{1,8}\n$/);
    expect(renderWithCloudInit(guest(named(cap, 'mail-lb-0')).metadata.network)).toMatch(/^iface lan0 inet static$/m);
  });
});

describe('scaling nodes 3 → 4', () => {
  let scaled: Cap;
  beforeAll(async () => {
    scaled = await harness.run(() => new MailCluster('mail', { spec: withNodes(4), credentials: VSPHERE_CREDENTIALS }));
  });

  it('adds one VM and keeps every existing URN', () => {
    const before = new Set(cap.resources.map((r) => r.urn));
    const after = new Set(scaled.resources.map((r) => r.urn));
    expect([...before].filter((u) => !after.has(u))).toEqual([]);
    expect(scaled.resources.filter((r) => !before.has(r.urn)).map((r) => r.name)).toEqual(['mail-node-3']);
    expect(scaled.duplicates).toEqual([]);
  });

  it('changes no existing VM (no reboot, no replacement) and widens the node rule', () => {
    for (const r of ofType(cap, VM)) {
      const now = scaled.resources.find((x) => x.urn === r.urn)!;
      expect(plain(now), r.name).toEqual(plain(r));
    }
    expect(plain(named(scaled, 'mail-node-anti-affinity')).virtualMachineIds).toEqual(['mail-node-0-id', 'mail-node-1-id', 'mail-node-2-id', 'mail-node-3-id']);
    expect(guest(named(scaled, 'mail-node-3')).metadata.network.ethernets.lan0!.addresses).toEqual(['10.40.0.63/23']);
  });
});
