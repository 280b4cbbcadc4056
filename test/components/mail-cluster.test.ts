import * as pulumi from '@pulumi/pulumi';
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { MailCluster, type MailClusterArgs } from '../../components/mail-cluster';
import type { ClusterSpecInput } from '../../components/spec';
import { recordAliases, resolveAgainst } from './engine-aliases';
import { PROXMOX_CREDENTIALS, proxmoxSpec } from './platforms/proxmox/fixtures';
import { VSPHERE_CREDENTIALS, exampleSpec } from './platforms/vsphere/harness';
import { platformInvokeResult, platformMockOutputs } from '../../components/offline/platform-mocks';
import { installCapture, isSecretValue, unwrapSecrets } from '../../components/offline/capture';
import { commonMockOutputs, composeMockOutputs } from '../../components/offline/mock-outputs';

const run = installCapture({ stack: 'unit', outputsFor: composeMockOutputs(commonMockOutputs, platformMockOutputs), invokeResult: platformInvokeResult });
const aliases = recordAliases();

const dockerSpec = {
  name: 'mc',
  platform: { kind: 'docker' as const },
  domains: [{ name: 'example.com' }],
};

const value = <T>(o: pulumi.Output<T>) => new Promise<T>((resolve) => o.apply((v) => resolve(v)));

describe('MailCluster', () => {
  it('exposes endpoints, admin URL, a secret admin token, members and its spec', async () => {
    let cluster!: MailCluster;
    const cap = await run(() => {
      cluster = new MailCluster('mc', { spec: dockerSpec });
    });
    const endpoints = await value(cluster.endpoints);
    expect(Object.keys(endpoints).sort()).toEqual(['imap', 'imaps', 'pop3', 'pop3s', 'smtp', 'smtps', 'submission']);
    expect(endpoints.imaps).toMatch(/:993$/);
    expect(await value(cluster.adminUrl)).toBe('https://mc-hub-0:443');
    expect(await pulumi.isSecret(cluster.adminToken)).toBe(true);
    const members = await value(cluster.members);
    expect(members.map((m) => m.memberId)).toEqual(['mc-hub-0', 'mc-node-0', 'mc-node-1', 'mc-gateway-0', 'mc-proxy-0']);
    // Every child is parented under the cluster; role components are named ${name}-<role>.
    const root = cap.resources.find((r) => r.type === MailCluster.type)!;
    const roles = cap.resources.filter((r) => r.parent === root.urn && r.type.startsWith('mailfleet:index:')).map((r) => r.name).sort();
    expect(roles).toEqual(['mc-gateway', 'mc-hub', 'mc-lb', 'mc-node', 'mc-proxy', 'mc-storage']);
    expect(cap.resources.filter((r) => r !== root && !r.parent)).toEqual([]);
    expect((root.outputs.spec as { name: string }).name).toBe('mc');
    expect(isSecretValue(root.outputs.adminToken)).toBe(true);
  });

  it('the self-signed certificate also names what members call the hub by', async () => {
    const cap = await run(() => new MailCluster('mc', { spec: dockerSpec }));
    const cert = cap.resources.find((r) => r.type === 'tls:index/selfSignedCert:SelfSignedCert' && r.name === 'mc-tls-cert')!;
    const inputs = unwrapSecrets(cert.inputs) as { dnsNames: string[] };
    expect(inputs.dnsNames).toEqual(['mail.example.test', 'mc-hub-0']);
  });

  it('issues a cluster-internal CA and, per role, a certificate from it naming the role\'s internal names; the keys are secrets', async () => {
    const cap = await run(() => new MailCluster('mc', { spec: { ...dockerSpec, hubs: { count: 2 } } }));
    const ca = cap.resources.find((r) => r.type === 'tls:index/selfSignedCert:SelfSignedCert' && r.name === 'mc-internal-ca')!;
    expect(ca.inputs.isCaCertificate).toBe(true);
    const csr = (role: string) => unwrapSecrets(cap.resources.find((r) => r.type === 'tls:index/certRequest:CertRequest' && r.name === `mc-${role}-internal-csr`)!.inputs) as { dnsNames: string[] };
    // The hubs' resource names are the ones existing stacks have (no replacement); nodes by member id (what the proxy checks), gateways too.
    expect(csr('hub').dnsNames).toEqual(['mc-hub-0', 'mc-hub-1']);
    expect(csr('node').dnsNames).toEqual(expect.arrayContaining(['mc-node-0']));
    expect(csr('gateway').dnsNames).toEqual(expect.arrayContaining(['mc-gateway-0']));
    for (const role of ['hub', 'node', 'gateway']) {
      const leaf = cap.resources.find((r) => r.type === 'tls:index/locallySignedCert:LocallySignedCert' && r.name === `mc-${role}-internal-cert`)!;
      expect(unwrapSecrets(leaf.inputs), role).toMatchObject({ caCertPem: ca.outputs.certPem, allowedUses: expect.arrayContaining(['server_auth']) });
    }
    // Docker uploads the CA to every member and each role's own key to that role only, as secrets; proxies get none.
    const uploads = (name: string) => JSON.stringify(unwrapSecrets(cap.resources.find((r) => r.type === 'docker:index/container:Container' && r.name === name)!.inputs.uploads));
    expect(uploads('mc-node-0')).toContain('/etc/mailfleet/cluster-tls/ca.crt');
    for (const m of ['mc-hub-1', 'mc-node-0', 'mc-gateway-0']) expect(uploads(m), m).toContain('/etc/mailfleet/cluster-tls/tls.key');
    expect(uploads('mc-proxy-0')).not.toContain('/etc/mailfleet/cluster-tls/tls.key');
  });

  describe('renamedFrom: the engine moves every resource, nothing is replaced', () => {
    const specFile = (f: string) => parse(readFileSync(join(__dirname, '..', '..', 'examples', 'specs', f), 'utf8')) as ClusterSpecInput;
    const platforms: [string, ClusterSpecInput, MailClusterArgs['credentials']][] = [
      ['docker (2 hosts)', specFile('docker-ha.yaml'), undefined],
      ['kubernetes', specFile('kubernetes-ha.yaml'), undefined],
      ['proxmox', proxmoxSpec(3), PROXMOX_CREDENTIALS],
      ['vsphere', exampleSpec(), VSPHERE_CREDENTIALS],
    ];
    it.each(platforms)('%s', async (_platform, spec, credentials) => {
      const old = (spec as { name: string }).name;
      const before = { cap: await run(() => new MailCluster(old, { spec, credentials })), aliases: new Map(aliases) };
      aliases.clear();
      const after = { cap: await run(() => new MailCluster('renamed', { spec, credentials, renamedFrom: old })), aliases: new Map(aliases) };
      aliases.clear();
      // Only the component says it had another name; the engine derives the rest.
      expect([...after.aliases].filter(([, a]) => a.some((x) => x.name)).map(([urn]) => urn)).toEqual([after.cap.resources.find((r) => r.type === MailCluster.type)!.urn]);
      const outcome = resolveAgainst(before, after, 'unit', 'mailfleet');
      expect(outcome.created).toEqual([]);
      expect(outcome.deleted).toEqual([]);
      expect(outcome.moved.size).toBe(before.cap.resources.length);
      expect([...outcome.moved].filter(([now, was]) => now !== was).length).toBeGreaterThan(10);

      // The same rename without renamedFrom replaces the cluster: the check can fail.
      const blind = { cap: await run(() => new MailCluster('renamed', { spec, credentials })), aliases: new Map(aliases) };
      aliases.clear();
      const replaced = resolveAgainst(before, blind, 'unit', 'mailfleet');
      expect(replaced.created.length).toBeGreaterThan(10);
      expect(replaced.deleted.length).toBe(replaced.created.length);
    });
  });

  it('fails before creating anything: invalid spec names the field; local is not a Pulumi platform', async () => {
    expect(() => new MailCluster('bad', { spec: { ...dockerSpec, nodes: { count: 0 } } })).toThrow(/nodes\.count: at least 1/);
    expect(() => new MailCluster('loc', { spec: { ...dockerSpec, platform: { kind: 'local' } } })).toThrow(/mailfleet up --local/);
  });
});
