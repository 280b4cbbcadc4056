import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { parseRuntimeConfig } from '../../../mail-runtime/config';
import {
  BOOTSTRAP_PATH,
  MAILFLEET_UID,
  memberConfigPath,
  nfsFstabEntry,
  renderMemberUserData,
  requiredSecrets,
  type WriteFile,
} from '../../../components/cloud-init';
import { fakeSecrets, runtimeOf, vmCluster } from './fixtures';
import { cloudInitSchema, cloudInitSchemaAll, isValidCloudConfig } from './validate';

const { spec, members } = vmCluster();
const storage = spec.storage as Extract<typeof spec.storage, { kind: 'nfs' }>;
const render = (m: (typeof members)[number], secrets = fakeSecrets) =>
  renderMemberUserData({ member: m, storage, runtime: runtimeOf(spec), secrets, domain: 'example.net' });
const first = (role: string) => members.find((m) => m.role === role && m.index === 0)!;

interface Doc {
  hostname: string;
  fqdn: string;
  users: (string | Record<string, unknown>)[];
  packages: string[];
  mounts: string[][];
  write_files: WriteFile[];
  runcmd: string[][];
}
const docOf = (text: string) => parse(text) as Doc;
const file = (doc: Doc, path: string) => doc.write_files.find((f) => f.path === path);

describe('member user data', () => {
  it('starts with the #cloud-config header', () => {
    expect(render(first('hub')).split('\n')[0]).toBe('#cloud-config');
  });

  it.each(['hub', 'node', 'gateway', 'proxy'])('%s user data matches the snapshot', (role) => {
    // The RuntimeConfig body belongs to render.ts (asserted below, parsed back):
    // keep it out of the snapshot so this one tracks the cloud-init renderer only.
    const m = first(role);
    const text = render(m);
    const body = file(docOf(text), memberConfigPath(m.memberId))!.content;
    const indented = body.trimEnd().split('\n').map((l) => `      ${l}`).join('\n');
    expect(text.includes(indented)).toBe(true);
    expect(text.replace(indented, '      <RuntimeConfig JSON of the member>')).toMatchSnapshot();
  });

  it('ships exactly the rendered RuntimeConfig, valid for the runtime, mode 0640', () => {
    for (const m of members) {
      const doc = docOf(render(m));
      const f = file(doc, memberConfigPath(m.memberId));
      expect(f, m.memberId).toBeDefined();
      expect(f!.permissions).toBe('0640');
      expect(f!.owner).toBe('root:mailfleet');
      const parsed = parseRuntimeConfig(JSON.parse(f!.content), m.memberId);
      expect(parsed).toEqual(m.config);
      expect(doc.hostname).toBe(m.memberId);
      expect(doc.fqdn).toBe(`${m.memberId}.example.net`);
    }
  });

  it('writes only the secrets the member config reads, 0600 owned by mailfleet, byte-exact', () => {
    const hub = docOf(render(first('hub')));
    const node = docOf(render(first('node')));
    const gw = docOf(render(first('gateway')));
    expect(file(hub, '/etc/mailfleet/secrets/admin-token')?.content).toBe(fakeSecrets.adminToken);
    expect(file(node, '/etc/mailfleet/secrets/admin-token')).toBeUndefined();
    expect(file(node, '/etc/mailfleet/secrets/dkim.key')).toBeUndefined();
    expect(file(gw, '/etc/mailfleet/secrets/dkim.key')?.content).toBe(fakeSecrets.dkimKeyPem);
    for (const doc of [hub, node, gw]) {
      const secretFiles = doc.write_files.filter((f) => f.path.startsWith('/etc/mailfleet/secrets/') || f.path.startsWith('/etc/mailfleet/tls/'));
      expect(secretFiles.length).toBeGreaterThanOrEqual(3);
      for (const f of secretFiles) {
        expect(f.permissions, f.path).toBe('0600');
        expect(f.owner, f.path).toBe('mailfleet:mailfleet');
        expect(f.defer, f.path).toBe(true);
      }
      expect(file(doc, '/etc/mailfleet/tls/tls.key')?.content).toBe(fakeSecrets.tlsKeyPem);
    }
  });

  it('requiredSecrets follows the config (hub: admin token; gateway with DKIM: dkim key)', () => {
    // Every member: the cluster-internal CA; hubs, nodes and gateways also their role's certificate from it, proxies none.
    // Hubs also the CA's key: they sign each member's own certificate.
    expect(requiredSecrets(first('hub').config).sort()).toEqual(['adminToken', 'clusterToken', 'hubInternalCertPem', 'hubInternalKeyPem', 'internalCaKeyPem', 'internalCaPem', 'tlsCertPem', 'tlsKeyPem']);
    expect(requiredSecrets(first('node').config).sort()).toEqual(['clusterToken', 'internalCaPem', 'nodeInternalCertPem', 'nodeInternalKeyPem', 'tlsCertPem', 'tlsKeyPem']);
    expect(requiredSecrets(first('gateway').config).sort()).toEqual(['clusterToken', 'dkimKeyPem', 'gatewayInternalCertPem', 'gatewayInternalKeyPem', 'internalCaPem', 'tlsCertPem', 'tlsKeyPem']);
    expect(requiredSecrets(first('proxy').config).sort()).toEqual(['clusterToken', 'internalCaPem', 'tlsCertPem', 'tlsKeyPem']);
  });

  it('refuses to render when a referenced secret is missing', () => {
    const { adminToken: _drop, ...rest } = fakeSecrets;
    expect(() => render(first('hub'), rest as typeof fakeSecrets)).toThrow(/admin-token.*adminToken/);
    expect(() => render(first('node'), rest as typeof fakeSecrets)).not.toThrow();
  });

  it('mounts the NFS share at /var/lib/mailfleet with the spec options and _netdev', () => {
    const doc = docOf(render(first('node')));
    expect(doc.mounts).toEqual([['10.50.0.5:/export/mail', '/var/lib/mailfleet', 'nfs4', 'hard,timeo=600,retrans=2,noatime,_netdev', '0', '0']]);
    expect(doc.packages).toContain('nfs-common');
    expect(nfsFstabEntry({ server: 's', path: '/p', options: 'vers=4.1,hard,_netdev' })).toEqual(['s:/p', '/var/lib/mailfleet', 'nfs', 'vers=4.1,hard,_netdev', '0', '0']);
  });

  it('creates the mailfleet account with a fixed uid and gid', () => {
    const doc = docOf(render(first('node')));
    const user = doc.users.find((u) => typeof u === 'object' && u.name === 'mailfleet') as Record<string, unknown>;
    expect(user).toMatchObject({ uid: MAILFLEET_UID, system: true, primary_group: 'mailfleet', lock_passwd: true });
    expect(JSON.stringify(parse(render(first('node'))).bootcmd)).toContain(`--gid ${MAILFLEET_UID}`);
  });

  it('installs a hardened systemd unit per role and starts it through the bootstrap', () => {
    const m = first('proxy');
    const doc = docOf(render(m));
    const unit = file(doc, '/etc/systemd/system/mailfleet-proxy.service')!.content;
    expect(unit).toContain(`ExecStart=/usr/bin/node /opt/mailfleet/bin/mailfleet.js run --config /etc/mailfleet/${m.memberId}.json`);
    for (const line of ['Restart=always', 'User=mailfleet', 'AmbientCapabilities=CAP_NET_BIND_SERVICE', 'ProtectSystem=strict', 'ReadWritePaths=/var/lib/mailfleet', 'RequiresMountsFor=/var/lib/mailfleet', 'NoNewPrivileges=true']) {
      expect(unit).toContain(line);
    }
    expect(unit).toMatch(/^RestartSec=\d+$/m);
    expect(doc.runcmd).toEqual([[BOOTSTRAP_PATH]]);
    const script = file(doc, BOOTSTRAP_PATH)!.content;
    expect(script).toContain('node_20.x nodistro main');
    expect(script).toContain(`'${spec.runtime.packageUrl}'`);
    expect(script).toContain("systemctl enable --now 'mailfleet-proxy.service'");
    expect(script.startsWith('#!/bin/sh\n')).toBe(true);
    expect(script).toContain('set -eu');
  });

  it('is accepted by cloud-init schema for every role', async () => {
    const roles = ['hub', 'node', 'gateway', 'proxy'];
    const results = await cloudInitSchemaAll(roles.map((role) => render(first(role))));
    results.forEach((r, i) => expect(isValidCloudConfig(r), `${roles[i]}: ${r.output}`).toBe(true));
  });

  it('the schema check rejects a broken document (the check can fail)', () => {
    const broken = render(first('node')).replace(/^packages:\n( {2}- .*\n)+/m, 'packages: nfs-common\n').replace('permissions: "0640"', 'permissions: 640');
    expect(broken).toContain('packages: nfs-common');
    const r = cloudInitSchema(broken);
    expect(r.code).not.toBe(0);
    expect(isValidCloudConfig(r)).toBe(false);
    expect(r.output).toMatch(/packages/);
    const headerless = cloudInitSchema(render(first('node')).replace('#cloud-config\n', ''));
    expect(isValidCloudConfig(headerless)).toBe(false);
  });
});
