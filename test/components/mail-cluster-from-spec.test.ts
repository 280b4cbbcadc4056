import * as pulumi from '@pulumi/pulumi';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { MailClusterFromSpec, MemberRole } from '../../components/mail-cluster-from-spec';
import { installCapture, isSecretValue, unwrapSecrets } from '../../components/offline/capture';
import { commonMockOutputs, composeMockOutputs } from '../../components/offline/mock-outputs';
import { platformInvokeResult, platformMockOutputs } from '../../components/offline/platform-mocks';
import { recordAliases, resolveAgainst } from './engine-aliases';
import { FAKE_TOKEN, proxmoxSpec } from './platforms/proxmox/fixtures';
import { exampleSpec as vsphereSpec } from './platforms/vsphere/harness';

/**
 * The façade for other Pulumi languages, in process under mocks (the same
 * class through the plugin's Construct is in test/package/).
 */

const run = installCapture({ stack: 'unit', outputsFor: composeMockOutputs(commonMockOutputs, platformMockOutputs), invokeResult: platformInvokeResult });
const aliases = recordAliases();
const docker = { name: 'mc', platform: { kind: 'docker' }, domains: [{ name: 'example.com' }] };
const value = <T>(o: pulumi.Output<T>) => new Promise<T>((resolve) => o.apply((v) => resolve(v)));

describe('MailClusterFromSpec', () => {
  it('takes the spec as YAML or JSON text and gives MailCluster\'s outputs, the role as the enum', async () => {
    for (const text of [stringify(docker), JSON.stringify(docker)]) {
      let c!: MailClusterFromSpec;
      const cap = await run(() => {
        c = new MailClusterFromSpec('mc', { spec: text, adminToken: 'given-token' });
      });
      expect(cap.resources.find((r) => r.type === 'mailfleet:index:MailCluster')?.parent).toBe(cap.resources.find((r) => r.type === 'mailfleet:index:MailClusterFromSpec')?.urn);
      expect(Object.keys(await value(c.endpoints)).sort()).toEqual(['imap', 'imaps', 'pop3', 'pop3s', 'smtp', 'smtps', 'submission']);
      expect((await value(c.members)).map((m) => m.role)).toEqual([MemberRole.Hub, MemberRole.Node, MemberRole.Node, MemberRole.Gateway, MemberRole.Proxy]);
      expect(await pulumi.isSecret(c.adminToken)).toBe(true);
      expect(await value(c.adminToken)).toBe('given-token');
      expect(await value(c.adminUrl)).toBe('https://mc-hub-0:443');
      const outputs = cap.resources.find((r) => r.type === 'mailfleet:index:MailClusterFromSpec')!.outputs;
      expect(Object.keys(outputs).sort()).toEqual(['adminToken', 'adminUrl', 'endpoints', 'members', 'storage']);
      expect(isSecretValue(outputs.adminToken)).toBe(true);
    }
  });

  it.each([
    ['no spec', {}, /spec: required/],
    ['an empty spec', { spec: '  ' }, /spec: required/],
    ['text that is not YAML', { spec: 'name: [unclosed' }, /spec: not valid YAML or JSON/],
    ['a spec with a bad field', { spec: JSON.stringify({ ...docker, nodes: { count: 0 } }) }, /nodes\.count: at least 1/],
    ["a spec that is another resource's output", { spec: pulumi.output(JSON.stringify(docker)) }, /spec: must be plain text known before deployment \(got another resource's output or a secret\)/],
    ['a vCenter user without password', { spec: stringify(vsphereSpec()), vsphereUser: 'u' }, /vspherePassword: required with vsphereUser/],
  ])('refuses %s before anything is created', async (_what, args, error) => {
    const cap = await run(() => {
      expect(() => new MailClusterFromSpec('bad', args as never)).toThrow(error);
    });
    expect(cap.resources.filter((r) => r.custom)).toEqual([]);
  });

  it('passes the credential inputs to the provider it builds, as secrets', async () => {
    const cap = await run(() => new MailClusterFromSpec('px', { spec: JSON.stringify(proxmoxSpec(3)), proxmoxApiToken: FAKE_TOKEN, proxmoxSshUsername: 'deploy' }));
    const provider = cap.resources.find((r) => r.type === 'pulumi:providers:proxmoxve')!;
    expect(isSecretValue(provider.inputs.apiToken)).toBe(true);
    expect(unwrapSecrets(provider.inputs.apiToken)).toBe(FAKE_TOKEN);
    expect(JSON.parse(String(unwrapSecrets(provider.inputs.ssh)))).toMatchObject({ username: 'deploy', agent: true });
    const vs = await run(() => new MailClusterFromSpec('vs', { spec: stringify(vsphereSpec()), vsphereUser: 'svc', vspherePassword: 'pw' }));
    expect(unwrapSecrets(vs.resources.find((r) => r.type === 'pulumi:providers:vsphere')!.inputs)).toMatchObject({ user: 'svc', password: 'pw' });
  });

  it('renamedFrom moves every resource (engine alias resolution), nothing is replaced', async () => {
    const spec = stringify(docker);
    aliases.clear();
    const before = { cap: await run(() => new MailClusterFromSpec('mc', { spec })), aliases: new Map(aliases) };
    aliases.clear();
    const after = { cap: await run(() => new MailClusterFromSpec('renamed', { spec, renamedFrom: 'mc' })), aliases: new Map(aliases) };
    const outcome = resolveAgainst(before, after, 'unit', 'mailfleet');
    expect(outcome.created).toEqual([]);
    expect(outcome.deleted).toEqual([]);
    expect(outcome.moved.size).toBe(before.cap.resources.length);
  });
});
