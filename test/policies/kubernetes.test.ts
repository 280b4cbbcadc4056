import { expect } from 'vitest';
import { K8S } from '../../policies/lib/tokens';
import { editResources } from './helpers';
import { policySuite } from './suite';

const isType = (type: string, nameIncludes = '') => (r: { type: string; name: string }) => r.type === type && r.name.includes(nameIncludes);
const generatedToken = (cap: { resources: Array<{ type: string; outputs: Record<string, unknown> }> }) =>
  String(cap.resources.find((r) => r.type === 'random:index/randomPassword:RandomPassword')!.outputs.result);

policySuite('kubernetes', [
  {
    policy: 'shared-storage',
    what: 'the mail claim is ReadWriteOnce',
    build: (cap) => editResources(cap, isType(K8S.pvc), (p) => (p.spec.accessModes = ['ReadWriteOnce'])),
  },
  {
    policy: 'failure-domains',
    what: 'the node StatefulSet has neither anti-affinity nor topology spread',
    build: (cap) =>
      editResources(cap, isType(K8S.statefulSet, '-node'), (p) => {
        delete p.spec.template.spec.affinity;
        delete p.spec.template.spec.topologySpreadConstraints;
      }),
    expectFindings: (results) => expect(results[0]!.urn).toContain('StatefulSet::mail-k8s-node'),
  },
  {
    policy: 'secrets-stay-secret',
    what: 'the admin token copied into a ConfigMap',
    build: (cap) => editResources(cap, isType(K8S.configMap, '-hub'), (p) => (p.data['admin-token'] = generatedToken(cap))),
    expectFindings: (results) => {
      expect(results[0]!.message).toMatch(/ConfigMap .* Kubernetes Secret/);
      // The finding names where, never the value.
      expect(results[0]!.message).not.toContain('mock-');
    },
  },
  {
    policy: 'secrets-stay-secret',
    what: 'a TLS private key in a clear environment variable',
    build: (cap) =>
      editResources(cap, isType(K8S.deployment, '-proxy'), (p) =>
        p.spec.template.spec.containers[0].env.push({ name: 'TLS_KEY', value: '-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n' }),
      ),
  },
  {
    policy: 'resource-floors',
    what: 'a container without limits',
    build: (cap) => editResources(cap, isType(K8S.statefulSet, '-gateway'), (p) => delete p.spec.template.spec.containers[0].resources.limits),
    expectFindings: (results) => expect(results[0]!.message).toContain('limits.cpu, limits.memory'),
  },
  {
    policy: 'tls-everywhere',
    what: 'the plain-HTTP management port on the public Service',
    build: (cap) => editResources(cap, (r) => r.type === K8S.service && r.name.endsWith('-lb-clients'), (p) => p.spec.ports.push({ name: 'management', port: 9090, targetPort: 'management' })),
  },
  {
    policy: 'tls-everywhere',
    what: 'a member config shipped without its certificate',
    build: (cap) =>
      editResources(cap, isType(K8S.configMap, '-proxy'), (p) => {
        for (const key of Object.keys(p.data)) {
          const config = JSON.parse(p.data[key]);
          delete config.tls;
          p.data[key] = JSON.stringify(config);
        }
      }),
  },
  {
    policy: 'no-open-relay',
    what: 'a gateway config accepting mail for a domain the spec does not host',
    build: (cap) =>
      // The members' ConfigMap (the appliances beside the gateways have their own).
      editResources(cap, isType(K8S.configMap, '-gateway-config'), (p) => {
        for (const key of Object.keys(p.data)) {
          const config = JSON.parse(p.data[key]);
          config.hostedDomains.push('not-ours.example');
          p.data[key] = JSON.stringify(config);
        }
      }),
  },
  {
    policy: 'inbound-antivirus',
    what: 'gateway configs shipped without the clamd the spec deploys',
    build: (cap) =>
      editResources(cap, isType(K8S.configMap, '-gateway-config'), (p) => {
        for (const key of Object.keys(p.data)) {
          const config = JSON.parse(p.data[key]);
          delete config.filters.clamd;
          p.data[key] = JSON.stringify(config);
        }
      }),
    expectFindings: (results) => {
      // One per gateway config in the ConfigMap.
      expect(results.map((r) => r.enforcementLevel)).toEqual(['advisory', 'advisory']);
      expect(results[0]!.message).toMatch(/gateway config mail-k8s-gateway-0 \(mail-k8s-gateway-config, data\.mail-k8s-gateway-0\.json.*without the spec's antivirus filter/);
    },
  },
  {
    policy: 'admin-api-private',
    what: 'the hub Service turned into a LoadBalancer',
    build: (cap) => editResources(cap, (r) => r.type === K8S.service && r.name === 'mail-k8s-hub-service', (p) => {
        // Only the API port: a public management port would (rightly) also break tls-everywhere.
        p.spec = { ...p.spec, type: 'LoadBalancer', ports: p.spec.ports.filter((x: { port: number }) => x.port === 443) };
        delete p.spec.clusterIP;
      }),
  },
  {
    policy: 'ha-minimums',
    what: 'the node StatefulSet scaled to one replica outside the spec',
    build: (cap) => editResources(cap, isType(K8S.statefulSet, '-node'), (p) => (p.spec.replicas = 1)),
  },
  {
    policy: 'pinned-runtime-image',
    what: 'a sidecar on :latest',
    build: (cap) => editResources(cap, isType(K8S.statefulSet, '-hub'), (p) => p.spec.template.spec.containers.push({ name: 'sidecar', image: 'busybox:latest', resources: p.spec.template.spec.containers[0].resources })),
  },
]);
