import { ServiceMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor';
import { describe, expect, it } from 'vitest';
import { MailCluster } from '../../../../components/mail-cluster';
import { kubernetesMockOutputs } from '../../../../components/platforms/kubernetes';
import { type Capture, installCapture } from '../../../../components/offline/capture';
import { commonMockOutputs, composeMockOutputs } from '../../../../components/offline/mock-outputs';
import { SpecError, parseClusterSpec, type ClusterSpecInput } from '../../../../components/spec';
import { exampleSpec, ofType, one, plain } from './helpers';

/**
 * `monitoring.serviceMonitor: true`: a Prometheus Operator ServiceMonitor
 * for the members' management ports, and a NetworkPolicy rule that lets
 * Prometheus reach them; nothing of either when off (the default).
 */
const run = installCapture({ outputsFor: composeMockOutputs(commonMockOutputs, kubernetesMockOutputs) });

const SERVICE_MONITOR = 'kubernetes:monitoring.coreos.com/v1:ServiceMonitor';
const SERVICE = 'kubernetes:core/v1:Service';
const NETPOL = 'kubernetes:networking.k8s.io/v1:NetworkPolicy';
const ROLES = ['hub', 'node', 'gateway', 'proxy'] as const;

function withMonitoring(monitoring: unknown): ClusterSpecInput {
  return { ...structuredClone(exampleSpec()), monitoring } as ClusterSpecInput;
}

function build(spec: ClusterSpecInput): Promise<Capture> {
  return run(() => {
    const c = new MailCluster('mail-prod', { spec });
    return { endpoints: c.endpoints };
  });
}

/** Does a Service's label set satisfy a matchLabels selector? */
const selects = (matchLabels: Record<string, string>, labels: Record<string, string>): boolean => Object.entries(matchLabels).every(([k, v]) => labels[k] === v);

/** NetworkPolicy ingress rules that admit any pod of any namespace to the management port. */
function prometheusIngress(cap: Capture, role: string): unknown[] {
  const np = plain(one(cap, NETPOL, `mail-prod-${role}-netpol`));
  return (np.spec.ingress as { from?: { namespaceSelector?: unknown }[] }[]).filter((r) => r.from?.some((f) => JSON.stringify(f.namespaceSelector) === '{}'));
}

describe('kubernetes: monitoring.serviceMonitor', () => {
  it('on: one ServiceMonitor selecting every role Service by its management port, valid against the prometheus-operator schema', async () => {
    const cap = await build(withMonitoring({ serviceMonitor: true }));
    expect(cap.duplicates).toEqual([]);
    const sms = ofType(cap, SERVICE_MONITOR);
    expect(sms).toHaveLength(1);
    const sm = plain(sms[0]!);
    expect(sm.apiVersion).toBe('monitoring.coreos.com/v1');
    expect(sm.kind).toBe('ServiceMonitor');
    expect(sm.metadata.namespace).toBe('mail-prod');
    expect(sm.spec.selector).toEqual({ matchLabels: { 'app.kubernetes.io/name': 'mailfleet', 'app.kubernetes.io/instance': 'mail-prod' } });
    expect(sm.spec.namespaceSelector).toEqual({ matchNames: ['mail-prod'] });
    expect(sm.spec.endpoints).toEqual([
      { port: 'management', path: '/metrics', scheme: 'http', interval: '30s', relabelings: [{ action: 'replace', targetLabel: 'job', replacement: 'mailfleet' }] },
    ]);
    // The ServiceMonitor's own Prometheus Operator schema (its CRD's OpenAPI, via kubernetes-models).
    expect(() => new ServiceMonitor(sm).validate()).not.toThrow();

    // Every role's Service is selected and has the port it scrapes, on the members' management port.
    for (const role of ROLES) {
      const svc = plain(one(cap, SERVICE, `mail-prod-${role}-service`));
      expect(selects(sm.spec.selector.matchLabels, svc.metadata.labels), role).toBe(true);
      expect(svc.spec.ports.map((p: { name: string }) => p.name), role).toContain('management');
    }
    // Prometheus (another namespace) may reach the management port, and only that port.
    for (const role of ROLES) {
      const rules = prometheusIngress(cap, role) as { ports: { port: number }[] }[];
      expect(rules, role).toHaveLength(1);
      const svc = plain(one(cap, SERVICE, `mail-prod-${role}-service`));
      const mgmt = svc.spec.ports.find((p: { name: string }) => p.name === 'management').port;
      expect(rules[0]!.ports).toEqual([{ protocol: 'TCP', port: mgmt }]);
    }
  });

  it('serviceMonitorLabels go on the ServiceMonitor only (what a Prometheus selects by), beside the usual labels', async () => {
    const cap = await build(withMonitoring({ serviceMonitor: true, serviceMonitorLabels: { release: 'kube-prometheus-stack', 'example.com/team': 'mail' } }));
    const sm = plain(ofType(cap, SERVICE_MONITOR)[0]!);
    expect(sm.metadata.labels).toMatchObject({ release: 'kube-prometheus-stack', 'example.com/team': 'mail', 'app.kubernetes.io/name': 'mailfleet' });
    expect(() => new ServiceMonitor(sm).validate()).not.toThrow();
    for (const role of ROLES) expect(plain(one(cap, SERVICE, `mail-prod-${role}-service`)).metadata.labels.release, role).toBeUndefined();
  });

  it('the schema check can fail: a ServiceMonitor without a selector is rejected', async () => {
    const cap = await build(withMonitoring({ serviceMonitor: true }));
    const sm = plain(ofType(cap, SERVICE_MONITOR)[0]!);
    delete sm.spec.selector;
    expect(() => new ServiceMonitor(sm).validate()).toThrow(/selector/);
  });

  it('off (explicitly, or by default): no ServiceMonitor and no ingress beyond the hubs to the management port', async () => {
    for (const monitoring of [{ serviceMonitor: false }, undefined]) {
      const spec = withMonitoring(monitoring);
      if (monitoring === undefined) delete (spec as { monitoring?: unknown }).monitoring;
      const cap = await build(spec);
      expect(ofType(cap, SERVICE).length).toBeGreaterThan(0);
      expect(ofType(cap, SERVICE_MONITOR)).toHaveLength(0);
      for (const role of ROLES) expect(prometheusIngress(cap, role), role).toEqual([]);
    }
  });
});

describe('spec: monitoring', () => {
  const problems = (input: unknown) => {
    try {
      parseClusterSpec(input);
    } catch (err) {
      expect(err).toBeInstanceOf(SpecError);
      return (err as SpecError).problems;
    }
    throw new Error('expected a SpecError');
  };

  it('defaults to no ServiceMonitor', () => {
    expect(parseClusterSpec(exampleSpec()).monitoring).toEqual({ serviceMonitor: false, serviceMonitorLabels: {} });
  });

  it('serviceMonitorLabels: bad label syntax names the key; labels without serviceMonitor are refused', () => {
    expect(problems(withMonitoring({ serviceMonitor: true, serviceMonitorLabels: { 'bad key!': 'x' } }))).toEqual([
      expect.objectContaining({ path: expect.stringMatching(/^monitoring\.serviceMonitorLabels/), message: expect.stringMatching(/Kubernetes label key|key that is not allowed/) }),
    ]);
    expect(problems(withMonitoring({ serviceMonitor: true, serviceMonitorLabels: { release: 'x'.repeat(64) } }))).toEqual([
      expect.objectContaining({ path: 'monitoring.serviceMonitorLabels.release', message: expect.stringMatching(/Kubernetes label value/) }),
    ]);
    expect(problems(withMonitoring({ serviceMonitorLabels: { release: 'kube-prometheus-stack' } }))).toEqual([
      expect.objectContaining({ path: 'monitoring.serviceMonitorLabels', message: expect.stringMatching(/needs monitoring.serviceMonitor: true/) }),
    ]);
  });

  it('a non-boolean, an unknown key and a non-kubernetes platform are rejected naming the field', () => {
    expect(problems(withMonitoring({ serviceMonitor: 'yes' }))).toEqual([
      expect.objectContaining({ path: 'monitoring.serviceMonitor', message: expect.stringMatching(/^must be true or false/) }),
    ]);
    expect(problems(withMonitoring({ serviceMonitors: true }))).toEqual([expect.objectContaining({ path: expect.stringMatching(/^monitoring/) })]);
    const local = { name: 'demo', platform: { kind: 'local' }, domains: [{ name: 'example.test' }], monitoring: { serviceMonitor: true } };
    expect(problems(local)).toEqual([
      expect.objectContaining({ path: 'monitoring.serviceMonitor', message: expect.stringMatching(/is for kubernetes.*management port \/metrics/) }),
    ]);
    expect(parseClusterSpec({ ...local, monitoring: { serviceMonitor: false } }).monitoring.serviceMonitor).toBe(false);
  });
});
