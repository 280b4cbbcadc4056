import * as pulumi from '@pulumi/pulumi';
import { describe, expect, it } from 'vitest';
import { MailCluster } from '../../components/mail-cluster';
import { platformInvokeResult, platformMockOutputs } from '../../components/offline/platform-mocks';
import { installCapture, isSecretValue, unwrapSecrets } from '../../components/offline/capture';
import { commonMockOutputs, composeMockOutputs } from '../../components/offline/mock-outputs';

const run = installCapture({ stack: 'unit', outputsFor: composeMockOutputs(commonMockOutputs, platformMockOutputs), invokeResult: platformInvokeResult });

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
    const cert = cap.resources.find((r) => r.type === 'tls:index/selfSignedCert:SelfSignedCert')!;
    const inputs = unwrapSecrets(cert.inputs) as { dnsNames: string[] };
    expect(inputs.dnsNames).toEqual(['mail.example.test', 'mc-hub-0']);
  });

  it('renamedFrom gives the component and every child an alias from its old name', async () => {
    const cap = await run(() => new MailCluster('mail-new', { spec: dockerSpec, renamedFrom: 'mc' }));
    expect(cap.resources.length).toBeGreaterThan(10);
    // A URN holds the parent's type but not its name: children named after the
    // spec (the Docker containers) keep their URN; all others need the alias.
    const unaliased = cap.resources.filter((r) => r.options.aliases === 0).map((r) => r.name);
    expect(unaliased.filter((n) => n.startsWith('mail-new'))).toEqual([]);
    expect(cap.resources.filter((r) => r.options.aliases > 0).length).toBeGreaterThan(10);
    const plain = await run(() => new MailCluster('mail-plain', { spec: dockerSpec }));
    expect(plain.resources.filter((r) => r.options.aliases > 0)).toEqual([]);
  });

  it('fails before creating anything: invalid spec names the field; local is not a Pulumi platform', async () => {
    expect(() => new MailCluster('bad', { spec: { ...dockerSpec, nodes: { count: 0 } } })).toThrow(/nodes\.count: at least 1/);
    expect(() => new MailCluster('loc', { spec: { ...dockerSpec, platform: { kind: 'local' } } })).toThrow(/mailfleet up --local/);
  });
});
