import * as pulumi from '@pulumi/pulumi';
import { describe, expect, it } from 'vitest';
import { installCapture, isSecretValue, unwrapSecrets } from '../../../../components/offline/capture';
import { commonMockOutputs, composeMockOutputs } from '../../../../components/offline/mock-outputs';
// MailCluster creates nothing on import, so a static import after installCapture's module is safe.
import { MailCluster } from '../../../../components/mail-cluster';
import { proxmoxMockOutputs } from '../../../../components/platforms/proxmox/mocks';
import { proxmoxCredentialsFromStackConfig } from '../../../../components/platforms/proxmox';
import type { ClusterSpecInput } from '../../../../components/spec';
import { FAKE_TOKEN, PROXMOX_CREDENTIALS, proxmoxSpec } from './fixtures';

const run = installCapture({ stack: 'ha-proxmox', outputsFor: composeMockOutputs(commonMockOutputs, proxmoxMockOutputs) });


const platform = (over: Record<string, unknown>) => {
  const s = proxmoxSpec(3);
  return { ...s, platform: { ...(s.platform as object), ...over } } as ClusterSpecInput;
};

describe('proxmox adapter: credentials', () => {
  it('without a provider or credentials, says how to give either', () => {
    expect(() => new MailCluster('a', { spec: proxmoxSpec(3) })).toThrow(
      /no Proxmox provider for https:\/\/.*: give the component one \(opts\.providers with a proxmoxve provider\) or pass credentials\.proxmox\.apiToken/,
    );
  });

  it('sends the token and an SSH key as secrets, even when passed in clear', async () => {
    const cap = await run(() => new MailCluster('c', { spec: proxmoxSpec(3), credentials: { proxmox: { apiToken: FAKE_TOKEN, ssh: { username: 'deploy', privateKey: 'PEM' } } } }));
    const provider = cap.resources.find((r) => r.type === 'pulumi:providers:proxmoxve')!;
    expect(isSecretValue(provider.inputs.apiToken)).toBe(true);
    expect(unwrapSecrets(provider.inputs.apiToken)).toBe(FAKE_TOKEN);
    expect(JSON.parse(String(unwrapSecrets(provider.inputs.ssh)))).toEqual({ username: 'deploy', agent: false, privateKey: 'PEM' });
  });
});

describe('proxmox credentials from stack config (for stack programs)', () => {
  const withToken = (key = 'proxmoxve:apiToken', value = FAKE_TOKEN, secret = true) => pulumi.runtime.setAllConfig({ [key]: value }, secret ? [key] : []);

  it('refuses to run without an API token in stack config', () => {
    pulumi.runtime.setAllConfig({}, []);
    expect(() => proxmoxCredentialsFromStackConfig()).toThrow(/pulumi config set --secret proxmoxve:apiToken/);
  });

  it('refuses a token stored in clear', () => {
    withToken('proxmoxve:apiToken', FAKE_TOKEN, false);
    expect(() => proxmoxCredentialsFromStackConfig()).toThrow(/proxmoxve:apiToken must be a secret/);
  });

  it('accepts mailfleet:proxmoxApiToken as the alternative key; the SSH agent by default', async () => {
    withToken('mailfleet:proxmoxApiToken');
    const creds = proxmoxCredentialsFromStackConfig();
    expect(await pulumi.isSecret(pulumi.output(creds.apiToken))).toBe(true);
    expect(creds.ssh).toEqual({});
    const cap = await run(() => new MailCluster('d', { spec: proxmoxSpec(3), credentials: { proxmox: creds } }));
    const provider = cap.resources.find((r) => r.type === 'pulumi:providers:proxmoxve')!;
    expect(unwrapSecrets(provider.inputs.apiToken)).toBe(FAKE_TOKEN);
    expect(JSON.parse(String(unwrapSecrets(provider.inputs.ssh)))).toEqual({ username: 'root', agent: true });
  });
});

describe('proxmox adapter: platform checks name the field', () => {
  const cases: [string, ClusterSpecInput, RegExp][] = [
    ['duplicate Proxmox node', platform({ nodes: ['pve1', 'pve2', 'pve1'] }), /platform\.nodes\[2\]/],
    ['VIP outside the subnet', { ...proxmoxSpec(3), loadBalancer: { kind: 'haproxy', replicas: 2, vip: '10.99.0.8' } }, /loadBalancer\.vip: 10\.99\.0\.8 is not a host address in 10\.40\.0\.0\/24/],
    ['VIP on a member address', { ...proxmoxSpec(3), loadBalancer: { kind: 'haproxy', replicas: 2, vip: '10.40.0.10' } }, /loadBalancer\.vip: .*mail-px-hub-0/],
    ['VIP with one replica', { ...proxmoxSpec(3), loadBalancer: { kind: 'haproxy', replicas: 1, vip: '10.40.0.8' } }, /loadBalancer\.replicas/],
    ['too many load balancers', { ...proxmoxSpec(3), loadBalancer: { kind: 'haproxy', replicas: 6, vip: '10.40.0.8' } }, /loadBalancer\.replicas: at most 5/],
    ['bad HA group id', platform({ haGroup: '9 bad' }), /platform\.haGroup/],
  ];
  it.each(cases)('%s', (_label, spec, error) => {
    expect(() => new MailCluster('e', { spec, credentials: PROXMOX_CREDENTIALS })).toThrow(error);
  });
});

describe('proxmox adapter: variants', () => {
  it('a shared snippets datastore gets one snippet per VM; an external LB creates no VMs', async () => {
    const spec: ClusterSpecInput = { ...platform({ snippetsDatastore: 'cephfs' }), loadBalancer: { kind: 'external', address: 'mx.example.net' } };
    let cluster: MailCluster | undefined;
    const cap = await run(() => {
      cluster = new MailCluster('f', { spec, credentials: PROXMOX_CREDENTIALS });
      return { endpoints: cluster.endpoints };
    });
    const vms = cap.resources.filter((r) => r.type === 'proxmoxve:index/vmLegacy:VmLegacy');
    const files = cap.resources.filter((r) => r.type === 'proxmoxve:index/fileLegacy:FileLegacy');
    expect(vms).toHaveLength(9);
    expect(files).toHaveLength(9);
    for (const f of files) expect(f.inputs.datastoreId).toBe('cephfs');
    expect(vms.some((v) => v.name.includes('-lb-'))).toBe(false);
    expect((cap.outputs.endpoints as Record<string, string>).imaps).toBe('mx.example.net:993');
  });

  it('the cluster endpoints use the keepalived VIP', async () => {
    const cap = await run(() => ({ endpoints: new MailCluster('g', { spec: proxmoxSpec(3), credentials: PROXMOX_CREDENTIALS }).endpoints }));
    expect(cap.outputs.endpoints).toMatchObject({ smtp: '10.40.0.8:25', imaps: '10.40.0.8:993', submission: '10.40.0.8:587' });
  });
});
