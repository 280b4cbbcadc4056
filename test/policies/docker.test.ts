import { expect } from 'vitest';
import { isSecretValue } from '../../components/offline/capture';
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
    policy: 'inbound-antivirus',
    what: 'a gateway container whose config lost its clamd',
    build: (cap) =>
      editResources(cap, container('-gateway-1'), (p) => {
        // The uploads stay secret (they carry the DKIM key): edit inside the wrapper.
        const uploads = (isSecretValue(p.uploads) ? p.uploads.value : p.uploads) as { file: string; content: string }[];
        const upload = uploads.find((u) => u.file.endsWith('/config.json'))!;
        const config = JSON.parse(upload.content);
        delete config.filters.clamd;
        upload.content = JSON.stringify(config);
      }),
    expectFindings: (results) => expect(results.map((r) => r.message)).toEqual([expect.stringMatching(/^gateway config mail-dock-gateway-1 /)]),
  },
  {
    policy: 'pinned-runtime-image',
    what: 'a container image given by a moving tag',
    build: (cap) => editResources(cap, container('-proxy-0'), (p) => (p.image = 'ghcr.io/mailfleet/mailfleet:stable')),
  },
]);
