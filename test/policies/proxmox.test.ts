import { expect } from 'vitest';
import { PROXMOX } from '../../policies/lib/tokens';
import { declassify, editResources } from './helpers';
import { policySuite } from './suite';

const vm = (nameIncludes: string) => (r: { type: string; name: string }) => r.type === PROXMOX.vmLegacy && r.name.includes(nameIncludes);

policySuite('proxmox', [
  {
    policy: 'secrets-stay-secret',
    what: 'cloud-init user data with the TLS key uploaded in clear',
    build: (cap) => editResources(cap, (r) => r.type === PROXMOX.fileLegacy && r.name.startsWith('mail-px-gateway-0-user-data'), (p) => declassify(p, 'sourceRaw')),
    expectFindings: (results) => expect(results[0]!.message).toMatch(/cloud-init user data \(sourceRaw\) in clear/),
  },
  {
    policy: 'secrets-stay-secret',
    what: 'the API token of the provider kept in clear',
    build: (cap) => editResources(cap, (r) => r.type === PROXMOX.provider, (p) => declassify(p, 'apiToken')),
  },
  {
    policy: 'failure-domains',
    what: 'both gateway VMs placed on pve1',
    build: (cap) => editResources(cap, vm('-gateway-'), (p) => (p.nodeName = 'pve1')),
  },
  {
    policy: 'resource-floors',
    what: 'a node VM given 1 GiB outside the spec',
    build: (cap) => editResources(cap, vm('-node-1'), (p) => (p.memory = { dedicated: 1024 })),
    expectFindings: (results) => expect(results[0]!.urn).toContain('mail-px-node-1'),
  },
]);
