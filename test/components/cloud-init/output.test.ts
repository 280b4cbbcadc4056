import * as pulumi from '@pulumi/pulumi';
import { beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { loadBalancerUserData, memberUserData } from '../../../components/cloud-init';
import { fakeSecrets, runtimeOf, vmCluster } from './fixtures';

const { spec, members } = vmCluster();
const storage = spec.storage as Extract<typeof spec.storage, { kind: 'nfs' }>;
const valueOf = <T>(o: pulumi.Output<T>) => new Promise<T>((resolve) => o.apply((v) => resolve(v)));

beforeAll(() => {
  void pulumi.runtime.setMocks({ newResource: (a) => ({ id: `${a.name}-id`, state: a.inputs }), call: () => ({}) }, 'mailfleet', 'test', false);
});

describe('Pulumi wrappers', () => {
  const secrets = Object.fromEntries(Object.entries(fakeSecrets).map(([k, v]) => [k, pulumi.secret(v)]));

  it('member user data is a secret output holding the rendered document', async () => {
    const hub = members.find((m) => m.role === 'hub')!;
    const out = memberUserData({ member: hub, storage, runtime: runtimeOf(spec), secrets });
    expect(await pulumi.isSecret(out)).toBe(true);
    const doc = parse(await valueOf(out)) as { write_files: { path: string; content: string }[] };
    expect(doc.write_files.find((f) => f.path === '/etc/mailfleet/secrets/admin-token')?.content).toBe(fakeSecrets.adminToken);
  });

  it('stays secret even when the secret inputs are plain strings', async () => {
    const node = members.find((m) => m.role === 'node')!;
    const out = memberUserData({ member: node, storage, runtime: runtimeOf(spec), secrets: { ...fakeSecrets } });
    expect(await pulumi.isSecret(out)).toBe(true);
  });

  it('throws synchronously (before any apply) when a needed secret is missing', () => {
    const hub = members.find((m) => m.role === 'hub')!;
    const { adminToken: _a, ...rest } = secrets;
    expect(() => memberUserData({ member: hub, storage, runtime: runtimeOf(spec), secrets: rest })).toThrow(/adminToken/);
  });

  it('load-balancer user data is secret when it carries extra (secret) files, plain otherwise', async () => {
    const withAuth = loadBalancerUserData({ hostname: 'lb', haproxyConfig: 'global\n', keepalivedConfig: 'vrrp_instance x {\n}\n', extraFiles: [{ path: '/etc/keepalived/vrrp-auth.conf', content: 'auth_pass abcdefgh\n' }] });
    expect(await pulumi.isSecret(withAuth)).toBe(true);
    expect(parse(await valueOf(withAuth)).write_files.map((f: { path: string }) => f.path)).toContain('/etc/keepalived/vrrp-auth.conf');
    expect(await pulumi.isSecret(loadBalancerUserData({ hostname: 'lb', haproxyConfig: 'global\n', keepalivedConfig: 'vrrp_instance x {\n}\n' }))).toBe(false);
    // A secret input makes the result secret even without extra files.
    expect(await pulumi.isSecret(loadBalancerUserData({ hostname: 'lb', haproxyConfig: pulumi.secret('global\n') }))).toBe(true);
  });
});
