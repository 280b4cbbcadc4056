import { beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { installCapture, isSecretValue, redactSecrets, unwrapSecrets, type Capture, type CapturedResource } from '../../../../components/offline/capture';
import { commonMockOutputs, composeMockOutputs } from '../../../../components/offline/mock-outputs';
// MailCluster creates nothing on import, so a static import after installCapture's module is safe.
import { MailCluster } from '../../../../components/mail-cluster';
import { proxmoxMockOutputs } from '../../../../components/platforms/proxmox/mocks';
import { parseRuntimeConfig } from '../../../../mail-runtime/config';
import { renderRuntimeConfigs } from '../../../../components/render';
import { parseClusterSpec } from '../../../../components/spec';
import { cloudInitSchemaAll, isValidCloudConfig } from '../../cloud-init/validate';
import { FAKE_TOKEN, PROXMOX_CREDENTIALS, proxmoxSpec } from './fixtures';

const run = installCapture({
  stack: 'ha-proxmox',
  outputsFor: composeMockOutputs(commonMockOutputs, proxmoxMockOutputs),
});

const T = {
  provider: 'pulumi:providers:proxmoxve',
  vm: 'proxmoxve:index/vmLegacy:VmLegacy',
  file: 'proxmoxve:index/fileLegacy:FileLegacy',
  group: 'proxmoxve:index/hagroup:Hagroup',
  ha: 'proxmoxve:index/haresource:Haresource',
} as const;

let cap: Capture;
let cap4: Capture;

const ofType = (c: Capture, t: string) => c.resources.filter((r) => r.type === t);
const byName = (c: Capture, n: string) => c.resources.find((r) => r.name === n)!;
const input = <T = unknown>(r: CapturedResource, k: string) => unwrapSecrets(r.inputs[k]) as T;

interface Vm { vmId: number; nodeName: string; name: string; clone: { vmId: number; full: boolean; nodeName: string; datastoreId: string }; initialization: { userDataFileId: string; ipConfigs: { ipv4: { address: string; gateway: string } }[]; dns: { servers: string[]; domain: string } }; cpu: { cores: number }; memory: { dedicated: number }; disks: { size: number; interface: string }[]; networkDevices: { bridge: string; vlanId: number }[]; onBoot: boolean; agent: { enabled: boolean } }
const vmInputs = (r: CapturedResource) => unwrapSecrets(r.inputs) as unknown as Vm;

/** The user data snippet a VM references. */
function userDataOf(c: Capture, vm: CapturedResource): string {
  const fileId = vmInputs(vm).initialization.userDataFileId;
  const file = ofType(c, T.file).find((f) => `${f.name}-id` === fileId);
  expect(file, `snippet of ${vm.name}`).toBeDefined();
  return (input<{ data: string }>(file!, 'sourceRaw')).data;
}

beforeAll(async () => {
  cap = await run(() => new MailCluster('mail', { spec: proxmoxSpec(3), credentials: PROXMOX_CREDENTIALS }));
  cap4 = await run(() => new MailCluster('mail', { spec: proxmoxSpec(4), credentials: PROXMOX_CREDENTIALS }));
});

describe('proxmox adapter, 3-node cluster on 3 Proxmox hosts', () => {
  it('creates the expected resource types and counts, with no duplicate URNs', () => {
    expect(cap.duplicates).toEqual([]);
    const vms = 2 + 3 + 2 + 2 + 2; // hubs, nodes, gateways, proxies, load balancers
    expect(ofType(cap, T.provider)).toHaveLength(1);
    expect(ofType(cap, T.group)).toHaveLength(1);
    expect(ofType(cap, T.vm)).toHaveLength(vms);
    expect(ofType(cap, T.ha)).toHaveLength(vms);
    // Snippets datastore `local` is node-local: one copy per Proxmox node so HA can restart a VM anywhere.
    expect(ofType(cap, T.file)).toHaveLength(vms * 3);
    expect(cap.resources.filter((r) => r.type === 'random:index/randomPassword:RandomPassword').map((r) => r.name)).toContain('mail-lb-vrrp');
    for (const r of cap.resources.filter((x) => x.type.startsWith('proxmoxve:'))) {
      expect(r.options.provider, r.name).toMatch(/pulumi:providers:proxmoxve::mail-proxmox::/);
      expect(r.parent, r.name).toBeDefined();
    }
  });

  it('configures the provider from the spec with the API token as a secret', () => {
    const p = ofType(cap, T.provider)[0]!;
    expect(p.inputs.endpoint).toBe('https://pve1.example.net:8006/');
    // Provider inputs travel as strings.
    expect(String(unwrapSecrets(p.inputs.insecure))).toBe('false');
    const ssh = unwrapSecrets(p.inputs.ssh);
    expect(typeof ssh === 'string' ? JSON.parse(ssh) : ssh).toEqual({ username: 'root', agent: true });
    expect(isSecretValue(p.inputs.apiToken)).toBe(true);
    expect(unwrapSecrets(p.inputs.apiToken)).toBe(FAKE_TOKEN);
  });

  it('makes an HA group over the Proxmox nodes and a started HA resource per VM', () => {
    const g = ofType(cap, T.group)[0]!;
    expect(unwrapSecrets(g.inputs)).toMatchObject({ group: 'mailfleet-mail-px', nodes: { pve1: 1, pve2: 1, pve3: 1 }, restricted: true });
    const ids = new Set(ofType(cap, T.vm).map((v) => `vm:${vmInputs(v).vmId}`));
    for (const h of ofType(cap, T.ha)) {
      expect(h.inputs.state).toBe('started');
      expect(h.inputs.group).toBe('mailfleet-mail-px');
      expect(ids.has(h.inputs.resourceId as string), h.name).toBe(true);
      ids.delete(h.inputs.resourceId as string);
    }
    expect(ids.size).toBe(0);
  });

  it('spreads each role round-robin over the Proxmox nodes', () => {
    const nodes = ['pve1', 'pve2', 'pve3'];
    for (const role of ['hub', 'node', 'gateway', 'proxy', 'lb']) {
      const vms = ofType(cap, T.vm).filter((v) => v.name.startsWith(`mail-${role}-`));
      expect(vms.length).toBeGreaterThanOrEqual(2);
      for (const v of vms) {
        const i = Number(v.name.split('-').pop());
        expect(vmInputs(v).nodeName, v.name).toBe(nodes[i % 3]);
      }
      // Members of a role never share a host while there are enough hosts.
      expect(new Set(vms.map((v) => vmInputs(v).nodeName)).size).toBe(Math.min(vms.length, 3));
    }
  });

  it('clones every VM in full from the template with the role size, network and static address', () => {
    const spec = parseClusterSpec(proxmoxSpec(3));
    const members = renderRuntimeConfigs(spec);
    for (const m of members) {
      const v = vmInputs(byName(cap, `mail-${m.role}-${m.index}`));
      expect(v.clone).toMatchObject({ vmId: 9000, full: true, nodeName: 'pve1', datastoreId: 'ceph-vm' });
      expect(v.name).toBe(m.memberId);
      expect(v.initialization.ipConfigs).toEqual([{ ipv4: { address: `${m.address}/24`, gateway: '10.40.0.1' } }]);
      expect(v.initialization.dns).toEqual({ servers: ['10.40.0.2'], domain: 'example.net' });
      expect(v.networkDevices[0]).toMatchObject({ bridge: 'vmbr0', vlanId: 40 });
      expect(v.onBoot).toBe(true);
      expect(v.agent.enabled).toBe(true);
    }
    const node0 = vmInputs(byName(cap, 'mail-node-0'));
    expect(node0.cpu.cores).toBe(4);
    expect(node0.memory.dedicated).toBe(8192);
    expect(node0.disks[0]).toMatchObject({ interface: 'scsi0', size: 40 });
    const lb0 = vmInputs(byName(cap, 'mail-lb-0'));
    expect(lb0.initialization.ipConfigs[0]!.ipv4.address).toBe('10.40.0.15/24');
  });

  it('allocates VM ids in role blocks from firstVmId', () => {
    const id = (n: string) => vmInputs(byName(cap, n)).vmId;
    expect([id('mail-hub-0'), id('mail-hub-1'), id('mail-lb-0'), id('mail-lb-1'), id('mail-gateway-0'), id('mail-proxy-1'), id('mail-node-2')]).toEqual([4000, 4001, 4005, 4006, 4010, 4031, 4052]);
  });

  it('uploads user data as snippets and points each VM at its own', () => {
    for (const f of ofType(cap, T.file)) {
      expect(f.inputs.contentType).toBe('snippets');
      expect(f.inputs.datastoreId).toBe('local');
    }
    const seen = new Set<string>();
    for (const vm of ofType(cap, T.vm)) {
      const fileId = vmInputs(vm).initialization.userDataFileId;
      expect(seen.has(fileId)).toBe(false);
      seen.add(fileId);
      const file = ofType(cap, T.file).find((f) => `${f.name}-id` === fileId)!;
      // The referenced copy lives on the VM's own node.
      expect(file.inputs.nodeName).toBe(vmInputs(vm).nodeName);
      expect(userDataOf(cap, vm).startsWith('#cloud-config\n')).toBe(true);
      expect(vm.options.dependsOn.some((u) => u.includes(file.name))).toBe(true);
    }
  });

  it('keeps every secret out of clear inputs: snippet content is a secret input', () => {
    for (const f of ofType(cap, T.file)) expect(isSecretValue(f.inputs.sourceRaw), f.name).toBe(true);
    // Every secret value the VMs receive (tokens, key bodies, the VRRP password)...
    const needles = new Set<string>();
    for (const f of ofType(cap, T.file)) {
      const doc = parse(input<{ data: string }>(f, 'sourceRaw').data) as { write_files: { path: string; content: string }[] };
      for (const w of doc.write_files) {
        if (w.path.endsWith('.crt')) continue; // the certificate is public
        if (!/\/(secrets|tls)\/|vrrp-auth/.test(w.path)) continue;
        for (const line of w.content.replace(/^auth_pass /, '').split('\n')) if (line && !line.startsWith('-----')) needles.add(line);
      }
    }
    expect(needles.size).toBeGreaterThanOrEqual(5);
    // ...appears nowhere in any resource's inputs outside a secret wrapper.
    const clear = JSON.stringify(cap.resources.map((r) => redactSecrets(r.inputs)));
    for (const n of needles) expect(clear.includes(n), `secret ${n.slice(0, 10)}… in clear`).toBe(false);
    expect(clear.includes(FAKE_TOKEN)).toBe(false);
  });

  it('ships each member exactly its rendered RuntimeConfig, valid for the runtime', () => {
    const members = renderRuntimeConfigs(parseClusterSpec(proxmoxSpec(3)));
    for (const m of members) {
      const doc = parse(userDataOf(cap, byName(cap, `mail-${m.role}-${m.index}`))) as { write_files: { path: string; content: string }[]; packages: string[] };
      const f = doc.write_files.find((w) => w.path === `/etc/mailfleet/${m.memberId}.json`);
      expect(f, m.memberId).toBeDefined();
      expect(parseRuntimeConfig(JSON.parse(f!.content), m.memberId)).toEqual(m.config);
      expect(doc.packages).toContain('qemu-guest-agent');
      const unit = doc.write_files.find((w) => w.path === `/etc/systemd/system/mailfleet-${m.role}.service`);
      expect(unit?.content).toContain(`--config /etc/mailfleet/${m.memberId}.json`);
    }
  });

  it('gives the load balancers HAProxy over proxies and gateways and keepalived holding the VIP', () => {
    const doc = parse(userDataOf(cap, byName(cap, 'mail-lb-1'))) as { packages: string[]; write_files: { path: string; content: string; permissions: string }[] };
    expect(doc.packages).toEqual(expect.arrayContaining(['haproxy', 'keepalived']));
    const haproxy = doc.write_files.find((w) => w.path === '/etc/haproxy/haproxy.cfg')!.content;
    for (const addr of ['10.40.0.40', '10.40.0.41', '10.40.0.20', '10.40.0.21']) expect(haproxy).toContain(addr);
    const ka = doc.write_files.find((w) => w.path === '/etc/keepalived/keepalived.conf')!.content;
    expect(ka).toContain('10.40.0.8/24');
    expect(ka).toContain('unicast_src_ip 10.40.0.16');
    expect(ka).toMatch(/unicast_peer \{\s+10\.40\.0\.15\s+\}/);
    const auth = doc.write_files.find((w) => w.path === '/etc/keepalived/vrrp-auth.conf')!;
    expect(auth.permissions).toBe('0600');
    expect(auth.content).toMatch(/^auth_pass \S{8}\n$/);
  });

  it('user data of a member and a load balancer passes cloud-init schema', async () => {
    const names = ['mail-gateway-0', 'mail-lb-0'];
    const results = await cloudInitSchemaAll(names.map((n) => userDataOf(cap, byName(cap, n))));
    results.forEach((r, i) => expect(isValidCloudConfig(r), `${names[i]}: ${r.output}`).toBe(true));
  });

  it('describes the external NFS storage without creating anything on Proxmox', () => {
    const storageChildren = cap.resources.filter((r) => r.parent?.endsWith('::mail-storage'));
    expect(storageChildren).toEqual([]);
    expect(ofType(cap, 'proxmoxve:storage/nfs:Nfs')).toEqual([]);
  });

  it('scaling mail nodes 3 → 4 keeps every existing URN and VM id and adds one VM on the next host', () => {
    expect(cap4.duplicates).toEqual([]);
    const urns4 = new Set(cap4.resources.map((r) => r.urn));
    const missing = cap.resources.map((r) => r.urn).filter((u) => !urns4.has(u));
    expect(missing).toEqual([]);
    for (const v of ofType(cap, T.vm)) {
      const after = cap4.resources.find((r) => r.urn === v.urn)!;
      expect(vmInputs(after).vmId, v.name).toBe(vmInputs(v).vmId);
      expect(vmInputs(after).nodeName, v.name).toBe(vmInputs(v).nodeName);
    }
    const added = cap4.resources.filter((r) => !cap.resources.some((x) => x.urn === r.urn));
    expect(added.filter((r) => r.type === T.vm).map((r) => r.name)).toEqual(['mail-node-3']);
    expect(vmInputs(byName(cap4, 'mail-node-3'))).toMatchObject({ vmId: 4053, nodeName: 'pve1' });
    expect(added.filter((r) => r.type === T.ha)).toHaveLength(1);
    expect(added.filter((r) => r.type === T.file)).toHaveLength(3);
  });
});
