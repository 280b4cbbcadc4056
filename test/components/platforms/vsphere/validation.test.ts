import * as pulumi from '@pulumi/pulumi';
import { describe, expect, it } from 'vitest';
import { MailCluster } from '../../../../components/mail-cluster';
import { vsphereCredentialsFromStackConfig } from '../../../../components/platforms/vsphere';
import type { ClusterSpecInput } from '../../../../components/spec';
import { CREDENTIALS, VSPHERE_CREDENTIALS, exampleSpec, installVsphereCapture } from './harness';

/**
 * Bad platform args fail before any vSphere resource exists, with a message
 * that names the field, the missing argument or (for stack programs) the
 * config key.
 */

const harness = installVsphereCapture(undefined);

function spec(patch: (s: ClusterSpecInput & Record<string, unknown>) => Record<string, unknown>): ClusterSpecInput {
  return patch(exampleSpec() as ClusterSpecInput & Record<string, unknown>) as ClusterSpecInput;
}

/** Runs the program; returns the error message and what was registered before it. */
async function attempt(input: ClusterSpecInput, credentials: typeof VSPHERE_CREDENTIALS | null = VSPHERE_CREDENTIALS) {
  let message = '';
  const cap = await harness.run(() => {
    try {
      new MailCluster('mail', { spec: input, ...(credentials ? { credentials } : {}) });
    } catch (err) {
      message = err instanceof Error ? err.message : String(err);
    }
  });
  return { message, vsphere: cap.resources.filter((r) => r.type.includes('vsphere')), invokes: cap.invokes };
}

describe('vSphere adapter validation', () => {
  it('without a provider or credentials, says how to give either, before anything exists', async () => {
    const r = await attempt(exampleSpec(), null);
    expect(r.message).toMatch(/no vSphere provider for vcenter\.corp\.example\.com: give the component one \(opts\.providers with a vsphere provider\) or pass credentials\.vsphere/);
    expect(r.vsphere).toEqual([]);
    expect(r.invokes).toEqual([]);
  });

  it('credentialsFromStackConfig names the missing config keys; the password comes back a secret', async () => {
    pulumi.runtime.setAllConfig({}, []);
    expect(() => vsphereCredentialsFromStackConfig()).toThrow(/vsphere:user is not set/);
    pulumi.runtime.setAllConfig({ 'vsphere:user': CREDENTIALS['vsphere:user'] }, []);
    expect(() => vsphereCredentialsFromStackConfig()).toThrow(/vsphere:password is not set: pulumi config set --secret vsphere:password/);
    // Set without --secret: still handled as a secret.
    pulumi.runtime.setAllConfig(CREDENTIALS, []);
    const creds = vsphereCredentialsFromStackConfig();
    expect(creds.user).toBe(CREDENTIALS['vsphere:user']);
    expect(await pulumi.isSecret(pulumi.output(creds.password))).toBe(true);
    pulumi.runtime.setAllConfig({}, []);
  });

  it.each([
    ['two replicas without a VIP', (s: Record<string, unknown>) => ({ ...s, loadBalancer: { kind: 'haproxy', replicas: 2 } }), /loadBalancer\.vip: required with 2 HAProxy replicas/],
    ['more replicas than the address block holds', (s: Record<string, unknown>) => ({ ...s, loadBalancer: { kind: 'haproxy', replicas: 6, vip: '10.40.0.8' } }), /loadBalancer\.replicas: at most 5/],
    ['a VIP outside the subnet', (s: Record<string, unknown>) => ({ ...s, loadBalancer: { kind: 'haproxy', replicas: 2, vip: '10.41.0.8' } }), /loadBalancer\.vip: 10\.41\.0\.8 is not a host address in 10\.40\.0\.0\/23/],
    ['a VIP that is an HAProxy VM address', (s: Record<string, unknown>) => ({ ...s, loadBalancer: { kind: 'haproxy', replicas: 2, vip: '10.40.0.16' } }), /loadBalancer\.vip: 10\.40\.0\.16 is already the address/],
    ['a VIP that is a node address', (s: Record<string, unknown>) => ({ ...s, loadBalancer: { kind: 'haproxy', replicas: 2, vip: '10.40.0.61' } }), /loadBalancer\.vip: 10\.40\.0\.61 is already the address/],
    ['a VIP with a single replica', (s: Record<string, unknown>) => ({ ...s, loadBalancer: { kind: 'haproxy', replicas: 1, vip: '10.40.0.8' } }), /loadBalancer\.vip: needs loadBalancer\.replicas of at least 2/],
  ])('rejects %s', async (_what, patch, error) => {
    const r = await attempt(spec(patch));
    expect(r.message).toMatch(error);
    expect(r.vsphere).toEqual([]);
  });

  it('accepts an external load balancer: no HAProxy VMs, endpoints on its address', async () => {
    const cap = await harness.run(() => {
      const c = new MailCluster('mail', { spec: spec((s) => ({ ...s, loadBalancer: { kind: 'external', address: 'mx.corp.example.com' } })), credentials: VSPHERE_CREDENTIALS });
      return { endpoints: c.endpoints };
    });
    expect(cap.resources.filter((r) => r.name.startsWith('mail-lb-')).map((r) => r.name)).toEqual([]);
    // 9 members and the example's appliance VM.
    expect(cap.resources.filter((r) => r.type === 'vsphere:index/virtualMachine:VirtualMachine')).toHaveLength(9 + 1);
    expect(cap.outputs.endpoints).toMatchObject({ smtp: 'mx.corp.example.com:25', imaps: 'mx.corp.example.com:993' });
  });

  it('a single-member role gets no anti-affinity rule (vSphere needs two VMs in a rule)', async () => {
    const cap = await harness.run(() => new MailCluster('mail', { spec: spec((s) => ({ ...s, hubs: { count: 1 } })), credentials: VSPHERE_CREDENTIALS }));
    const rules = cap.resources.filter((r) => r.type === 'vsphere:index/computeClusterVmAntiAffinityRule:ComputeClusterVmAntiAffinityRule').map((r) => r.name);
    expect(rules.sort()).toEqual(['mail-gateway-anti-affinity', 'mail-lb-anti-affinity', 'mail-node-anti-affinity', 'mail-proxy-anti-affinity']);
  });
});
