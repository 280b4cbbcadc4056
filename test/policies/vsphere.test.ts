import { expect } from 'vitest';
import { VSPHERE } from '../../policies/lib/tokens';
import { declassify, editResources } from './helpers';
import { policySuite } from './suite';

policySuite('vsphere', [
  {
    policy: 'failure-domains',
    what: 'the node anti-affinity rule disabled',
    build: (cap) => editResources(cap, (r) => r.type === VSPHERE.antiAffinityRule && r.name.includes('-node-'), (p) => (p.enabled = false)),
    expectFindings: (results) => expect(results[0]!.message).toContain('node VMs'),
  },
  {
    policy: 'failure-domains',
    what: 'the HAProxy VMs without their anti-affinity rule',
    build: (cap) => ({ resources: cap.resources.filter((r) => !(r.type === VSPHERE.antiAffinityRule && r.name.includes('-lb-'))) }),
    expectFindings: (results) => expect(results.map((r) => r.message).join('\n')).toContain('2 lb VMs'),
  },
  {
    policy: 'failure-domains',
    what: 'no anti-affinity rule at all',
    build: (cap) => ({ resources: cap.resources.filter((r) => r.type !== VSPHERE.antiAffinityRule) }),
  },
  {
    policy: 'secrets-stay-secret',
    what: 'guestinfo user data (base64 cloud-config with the cluster token) in clear',
    build: (cap) => editResources(cap, (r) => r.type === VSPHERE.virtualMachine && r.name === 'mail-vs-hub-0', (p) => declassify(p, 'extraConfig')),
    expectFindings: (results) => expect(results[0]!.message).toMatch(/cloud-init user data \(extraConfig\) in clear/),
  },
  {
    policy: 'resource-floors',
    what: 'a proxy VM with 256 MiB outside the spec',
    build: (cap) => editResources(cap, (r) => r.type === VSPHERE.virtualMachine && r.name === 'mail-vs-proxy-0', (p) => (p.memory = 256)),
  },
]);
