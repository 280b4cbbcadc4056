import type * as k8s from '@pulumi/kubernetes';
import { isIPv4, isIPv6 } from 'node:net';
import type { RuntimeConfig } from '../../../mail-runtime/config';
import type { Role } from '../../spec';
import { applianceLabels, selectorLabels, type KubeEnv } from './meta';
import { MEMBERS_ONLY_LISTENERS, listenPorts } from './pod';

type Spec = k8s.types.input.networking.v1.NetworkPolicySpec;
type Rule = { protocol: 'TCP' | 'UDP'; port: number };
type Peer = k8s.types.input.networking.v1.NetworkPolicyPeer;
type Ingress = k8s.types.input.networking.v1.NetworkPolicyIngressRule;
type Egress = k8s.types.input.networking.v1.NetworkPolicyEgressRule;

/**
 * The flows each role needs, and nothing else (ingress and egress both
 * listed, so a pod of the role is isolated in both directions):
 *
 * | from → to | ports |
 * | --- | --- |
 * | anyone → proxies | the proxy's client listeners (IMAP, IMAPS, POP3, submission, SMTPS) |
 * | anyone → gateways | SMTP 25 (every gateway listener but the relay) |
 * | proxies → nodes | every node listener except LMTP |
 * | gateways → nodes | LMTP |
 * | nodes → gateways | the relay listener only (587: a node relays its users' outside mail, AUTH with the cluster token) |
 * | every member → hubs | hub API (443) |
 * | operators (admin.allowedCidrs; anyone with admin.public) → hubs | hub API |
 * | hubs → every member | management (9090: health, metrics) |
 * | any pod of the cluster (Prometheus) → every member | management, only with monitoring.serviceMonitor (./monitoring.ts) |
 * | gateways → internet | SMTP 25 (direct MX delivery), the smarthost, the filters (clamd, spamd/rspamd) |
 * | gateways → deployed appliances | the clamd / rspamd port, to those pods only (their own policies: ./appliances.ts) |
 * | every member → DNS | 53 UDP/TCP, any destination (kube-dns, NodeLocal DNSCache) |
 *
 * Kubelet probes come from the node itself, which NetworkPolicy
 * implementations let through. Shared storage is mounted by the kubelet, not
 * from the pod network, so it needs no rule.
 */

const tcp = (port: number): Rule => ({ protocol: 'TCP', port });
const DNS: Egress = { ports: [{ protocol: 'UDP', port: 53 }, tcp(53)] };
const ANYWHERE: Peer[] = [{ ipBlock: { cidr: '0.0.0.0/0' } }, { ipBlock: { cidr: '::/0' } }];

/** Where a `host:port` filter/smarthost address lives, as precisely as a NetworkPolicy can say it. */
export function peerFor(address: string): { to?: Peer[]; port: number } {
  const i = address.lastIndexOf(':');
  const host = address.slice(0, i).replace(/^\[|\]$/g, '');
  const port = Number(address.slice(i + 1));
  if (isIPv4(host)) return { to: [{ ipBlock: { cidr: `${host}/32` } }], port };
  if (isIPv6(host)) return { to: [{ ipBlock: { cidr: `${host}/128` } }], port };
  // `<service>.<namespace>.svc[.cluster.local]`: the Service's namespace.
  const svc = /^[a-z0-9-]+\.([a-z0-9-]+)\.svc(\.cluster\.local)?\.?$/.exec(host);
  if (svc) return { to: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': svc[1]! } } }], port };
  // Any other name resolves outside what a NetworkPolicy can match: allow the port.
  return { port };
}

export function networkPolicySpec(env: KubeEnv, role: Role): Spec {
  const { ctx } = env;
  const cluster = ctx.spec.name;
  const configOf = (r: Role): RuntimeConfig | undefined => ctx.members.find((m) => m.role === r)?.config;
  const portsOf = (r: Role, keep: (name: string) => boolean = () => true): Rule[] => {
    const c = configOf(r);
    return c ? listenPorts(c).filter((p) => keep(p.name)).map((p) => tcp(p.containerPort)) : [];
  };
  const members: Peer = { podSelector: { matchLabels: selectorLabels(cluster) } };
  const of = (r: Role): Peer => ({ podSelector: { matchLabels: selectorLabels(cluster, r) } });
  const own = configOf(role)!;
  const management = tcp(own.management.port);
  const hubApi = portsOf('hub');
  const nodeMailbox = portsOf('node', (name) => name !== 'lmtp');
  const nodeLmtp = portsOf('node', (name) => name === 'lmtp');
  const gatewayPublic = portsOf('gateway', (name) => !MEMBERS_ONLY_LISTENERS.includes(name));
  const gatewayRelay = portsOf('gateway', (name) => name === 'relay');

  const ingress: Ingress[] = [{ from: [of('hub')], ports: [management] }];
  // The ServiceMonitor's Prometheus runs in a namespace we do not know (kube-prometheus-stack's `monitoring`, say): any pod in the cluster, never outside it.
  if (ctx.spec.monitoring.serviceMonitor) ingress.push({ from: [{ namespaceSelector: {} }], ports: [management] });
  const egress: Egress[] = [DNS];
  if (role !== 'hub') egress.push({ to: [of('hub')], ports: hubApi });

  switch (role) {
    case 'hub': {
      ingress.push({ from: [members], ports: hubApi });
      const admin = ctx.spec.admin;
      if (admin.public) ingress.push({ ports: hubApi });
      else if (admin.allowedCidrs.length > 0) ingress.push({ from: admin.allowedCidrs.map((cidr) => ({ ipBlock: { cidr } })), ports: hubApi });
      egress.push({ to: [of('hub')], ports: hubApi }, { to: [members], ports: [management] });
      break;
    }
    case 'node':
      ingress.push({ from: [of('proxy')], ports: nodeMailbox }, { from: [of('gateway')], ports: nodeLmtp });
      if (gatewayRelay.length > 0) egress.push({ to: [of('gateway')], ports: gatewayRelay });
      break;
    case 'gateway': {
      ingress.push({ ports: gatewayPublic });
      if (gatewayRelay.length > 0) ingress.push({ from: [of('node')], ports: gatewayRelay });
      egress.push({ to: [of('node')], ports: nodeLmtp }, { to: ANYWHERE, ports: [tcp(25)] });
      if (own.role === 'gateway') {
        const targets = [own.smarthost, own.filters.clamd?.address, own.filters.spam?.address].filter((a): a is string => !!a);
        for (const t of targets) {
          const appliance = ctx.appliances.find((a) => `${a.host}:${a.port}` === t);
          if (appliance) {
            egress.push({ to: [{ podSelector: { matchLabels: applianceLabels(cluster, appliance) } }], ports: [tcp(appliance.port)] });
            continue;
          }
          const { to, port } = peerFor(t);
          egress.push(to ? { to, ports: [tcp(port)] } : { ports: [tcp(port)] });
        }
      }
      break;
    }
    case 'proxy':
      ingress.push({ ports: portsOf('proxy') });
      egress.push({ to: [of('node')], ports: nodeMailbox });
      break;
  }
  return {
    podSelector: { matchLabels: selectorLabels(cluster, role) },
    policyTypes: ['Ingress', 'Egress'],
    ingress,
    egress,
  };
}
