import * as k8s from '@pulumi/kubernetes';
import * as pulumi from '@pulumi/pulumi';
import { STANDARD_PORTS, type RenderedMember } from '../../render';
import type { Role } from '../../spec';
import { CLIENT_PORTS, type ClientPort, type LoadBalancerArgs, type LoadBalancerOut } from '../types';
import { selectorLabels, type KubeEnv } from './meta';
import { publicPorts } from './pod';

/**
 * Client-facing Services. One per edge role, not one for both:
 *
 * - `<cluster>-smtp` → gateways (SMTP 25), `<cluster>-clients` → proxies
 *   (every client listener the proxy config has: IMAP, IMAPS, POP3,
 *   submission, SMTPS...). The hub's API is not on either; only with
 *   `admin.public` a third Service `<cluster>-admin` exposes it, limited to
 *   `admin.allowedCidrs` when given.
 * - `externalTrafficPolicy: Local` keeps the client's source address, which
 *   gateways need for SPF, relay networks and per-IP limits. With Local, a
 *   cloud load balancer health-checks each node per Service; a single Service
 *   over gateways and proxies would pass the check on a node running only a
 *   proxy and then drop SMTP there. Hence two Services.
 * - The `address` output is the clients Service's (the name users type);
 *   `spec.loadBalancer.loadBalancerIP` pins that one. The SMTP Service (the
 *   MX target) gets its own address from the platform.
 * - serviceType NodePort, or loadBalancer kind `external` (the operator's own
 *   balancer forwards to the nodes): fixed node ports 30000 + the standard
 *   port (30025, 30143, 30993...), so the operator can configure them ahead.
 */

export const NODE_PORT_BASE = 30000;

type PortSpec = k8s.types.input.core.v1.ServicePort;

export function createLoadBalancer(env: KubeEnv, args: LoadBalancerArgs, parent: pulumi.Resource): LoadBalancerOut {
  const { ctx, names } = env;
  const { spec } = ctx;
  const lb = spec.loadBalancer;
  const external = lb.kind === 'external';
  const type = external ? 'NodePort' : spec.platform.serviceType;
  const annotations = lb.kind === 'kubernetes-service' ? lb.annotations : {};
  const opts = env.opts(parent, { dependsOn: args.dependsOn });

  const portsFor = (members: readonly RenderedMember[]): PortSpec[] => {
    const first = members[0];
    if (!first) return [];
    // The gateways' relay listener is for cluster members only: never on a public Service.
    return publicPorts(first.config).map((p) => ({
      name: p.name,
      port: p.containerPort,
      targetPort: p.name,
      protocol: p.protocol,
      ...(type === 'NodePort' ? { nodePort: NODE_PORT_BASE + p.containerPort } : {}),
    }));
  };

  const service = (suffix: string, k8sName: string, role: Role, members: readonly RenderedMember[], extra: { loadBalancerIP?: string; sourceRanges?: string[] } = {}) =>
    new k8s.core.v1.Service(
      `${ctx.name}-lb-${suffix}`,
      {
        metadata: env.meta(k8sName, role, annotations),
        spec: {
          type,
          externalTrafficPolicy: 'Local',
          selector: selectorLabels(spec.name, role),
          ports: portsFor(members),
          ...(extra.loadBalancerIP && type === 'LoadBalancer' ? { loadBalancerIP: extra.loadBalancerIP } : {}),
          ...(extra.sourceRanges && extra.sourceRanges.length > 0 && type === 'LoadBalancer' ? { loadBalancerSourceRanges: extra.sourceRanges } : {}),
        },
      },
      opts,
    );

  const resources: pulumi.Resource[] = [];
  const smtp = args.gateways.length > 0 ? service('smtp', names.publicSmtp, 'gateway', args.gateways) : undefined;
  if (smtp) resources.push(smtp);
  const clients = args.proxies.length > 0 ? service('clients', names.publicClients, 'proxy', args.proxies, { loadBalancerIP: lb.kind === 'kubernetes-service' ? lb.loadBalancerIP : undefined }) : undefined;
  if (clients) resources.push(clients);
  if (spec.admin.public) {
    // Opt-in only (policies reject it in production); never without TLS: the hub listener is HTTPS.
    resources.push(service('admin', names.publicAdmin, 'hub', args.hubs, { sourceRanges: spec.admin.allowedCidrs }));
  }

  const ports = Object.fromEntries(
    CLIENT_PORTS.map((p) => [p, external || type === 'LoadBalancer' ? STANDARD_PORTS[p] : NODE_PORT_BASE + STANDARD_PORTS[p]]),
  ) as Record<ClientPort, number>;

  const ingressOf = (svc: k8s.core.v1.Service | undefined): pulumi.Output<string> => {
    if (lb.kind === 'external') return pulumi.output(lb.address);
    if (type === 'LoadBalancer' && svc) {
      return svc.status.apply((s) => {
        const ingress = s?.loadBalancer?.ingress?.[0];
        return ingress?.ip ?? ingress?.hostname ?? spec.hostname;
      });
    }
    // NodePort: clients reach the nodes through the public host name.
    return pulumi.output(spec.hostname);
  };
  // SMTP has its own Service, hence its own address (the MX target).
  return { resources, address: ingressOf(clients), addresses: smtp ? { smtp: ingressOf(smtp) } : undefined, ports };
}
