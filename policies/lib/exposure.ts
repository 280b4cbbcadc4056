import type { PolicyResource } from '@pulumi/policy';
import { DOCKER, K8S } from './tokens';
import { textsOf } from './text';
import { at, items, num, str } from './walk';

/**
 * What a cluster exposes to clients: ports of public Kubernetes Services,
 * ports Docker containers publish on their host, and frontends of HAProxy
 * configurations shipped to load-balancer containers or VMs.
 */

export interface Exposure {
  resource: PolicyResource;
  port: number;
  /** What exposes it, for messages: `Service type LoadBalancer`, `published by container`, `HAProxy frontend admin`. */
  how: string;
  /** The Kubernetes Service selector's component label (which role receives the traffic), when known. */
  component?: string;
  /** HAProxy frontend name, when known. */
  frontend?: string;
}

const PUBLIC_SERVICE_TYPES = new Set(['LoadBalancer', 'NodePort']);

function haproxyFrontends(text: string): Array<{ name: string; port: number }> {
  if (!/^\s*frontend\s+/m.test(text) || !/^\s*backend\s+/m.test(text)) return [];
  const out: Array<{ name: string; port: number }> = [];
  let current: string | undefined;
  for (const line of text.split('\n')) {
    const section = /^(frontend|listen|backend|defaults|global|resolvers|peers|userlist)\s*(\S*)/.exec(line);
    if (section) {
      current = section[1] === 'frontend' || section[1] === 'listen' ? section[2] || section[1] : undefined;
      continue;
    }
    const bind = /^\s+bind\s+(\S+)/.exec(line);
    if (bind && current !== undefined) {
      const port = Number(/:(\d+)(?:$|\s|,)/.exec(`${bind[1]} `)?.[1]);
      if (Number.isInteger(port) && port > 0) out.push({ name: current, port });
    }
  }
  return out;
}

/** Public exposures among `resources` (a cluster's descendants). */
export function exposuresOf(resources: readonly PolicyResource[]): Exposure[] {
  const out: Exposure[] = [];
  const seenHaproxy = new Set<string>();
  for (const r of resources) {
    if (r.type === K8S.service) {
      const type = str(at(r.props, 'spec', 'type')) ?? 'ClusterIP';
      if (!PUBLIC_SERVICE_TYPES.has(type)) continue;
      const component = str(at(r.props, 'spec', 'selector', 'app.kubernetes.io/component'));
      for (const p of items(at(r.props, 'spec', 'ports'))) {
        const port = num(at(p, 'port'));
        if (port !== undefined) out.push({ resource: r, port, how: `Service type ${type}`, component });
      }
    } else if (r.type === K8S.ingress) {
      out.push({ resource: r, port: 443, how: 'Ingress' });
    } else if (r.type === DOCKER.container) {
      for (const p of items(at(r.props, 'ports'))) {
        const port = num(at(p, 'internal'));
        const ip = str(at(p, 'ip'));
        if (port !== undefined && ip !== '127.0.0.1' && ip !== '::1') out.push({ resource: r, port, how: 'published by the container' });
      }
    }
    // HAProxy configs, wherever they travel (container uploads, cloud-init write_files, ConfigMaps).
    for (const t of textsOf(r.props)) {
      for (const f of haproxyFrontends(t.text)) {
        const key = `${r.urn} ${f.name} ${f.port}`;
        if (seenHaproxy.has(key)) continue;
        seenHaproxy.add(key);
        out.push({ resource: r, port: f.port, how: `HAProxy frontend ${f.name}`, frontend: f.name });
      }
    }
  }
  return out;
}

/**
 * Client ports that carry TLS (implicit) or offer STARTTLS before
 * authentication (RFC 3207 SMTP, RFC 3501/9051 IMAP, RFC 2595 POP3), and
 * the hub's HTTPS API.
 */
export const TLS_CAPABLE_PORTS: Readonly<Record<number, string>> = {
  25: 'SMTP (STARTTLS)',
  587: 'submission (STARTTLS)',
  465: 'SMTPS',
  143: 'IMAP (STARTTLS)',
  993: 'IMAPS',
  110: 'POP3 (STLS)',
  995: 'POP3S',
  443: 'HTTPS',
};
