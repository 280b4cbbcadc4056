import { expect } from 'vitest';
import { DOCKER } from '../../policies/lib/tokens';
import { declassify, editResources } from './helpers';
import { policySuite } from './suite';

const container = (nameIncludes: string) => (r: { type: string; name: string }) => r.type === DOCKER.container && r.name.includes(nameIncludes);

policySuite('docker', [
  {
    policy: 'secrets-stay-secret',
    what: 'the admin token passed in the environment',
    build: (cap) => editResources(cap, container('-hub-0'), (p) => p.envs.push('MAILFLEET_ADMIN_TOKEN=s3cr3t-admin-token-value')),
    expectFindings: (results) => {
      expect(results[0]!.message).toContain('MAILFLEET_ADMIN_TOKEN');
      expect(results[0]!.message).not.toContain('s3cr3t');
    },
  },
  {
    policy: 'secrets-stay-secret',
    what: 'secret file uploads sent without pulumi.secret',
    build: (cap) => editResources(cap, container('-gateway-0'), (p) => declassify(p, 'uploads')),
    expectFindings: (results) => expect(results[0]!.message).toMatch(/uploads.*Pulumi secret/),
  },
  {
    policy: 'shared-storage',
    what: 'one host volume without NFS options while the cluster spans two hosts',
    build: (cap) => editResources(cap, (r) => r.type === DOCKER.volume && r.name.endsWith('-1'), (p) => delete p.driverOpts),
  },
  {
    policy: 'failure-domains',
    what: 'every node container on the first host',
    build: (cap) => {
      const nodes = cap.resources.filter(container('-node-'));
      const first = nodes[0]!.options.provider;
      return editResources(cap, container('-node-'), (_p, r) => (r.options.provider = first));
    },
  },
  {
    policy: 'admin-api-private',
    what: 'a hub container publishing the API port on its host',
    build: (cap) => editResources(cap, container('-hub-0'), (p) => (p.ports = [{ internal: 443, external: 8443 }])),
  },
  {
    policy: 'pinned-runtime-image',
    what: 'a container image given by a moving tag',
    build: (cap) => editResources(cap, container('-proxy-0'), (p) => (p.image = 'ghcr.io/mailfleet/mailfleet:stable')),
  },
]);
