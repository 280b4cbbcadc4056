import type { StackValidationPolicy } from '@pulumi/policy';
import { isPrivateCidr } from '../lib/cidr';
import { runtimeConfigsOf } from '../lib/text';
import { clustersOf, label, pairsOf, reportUnreadable, type TopologyView } from '../lib/topology';
import { items, str } from '../lib/walk';

/**
 * 6. No open relay. Unauthenticated relaying is allowed only from private
 * networks the operator owns (RFC 5321 §3.6.1, RFC 2505 §2); anything else
 * makes the gateways a spam cannon and gets the site's addresses listed
 * within hours. Inbound MX accepts mail only for the hosted domains.
 */

type Spec = { gateway?: { relayNetworks?: string[] }; domains?: Array<{ name: string }> };

const CIDR = /^\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}\/\d{1,2}$/;
const privateCidr = (c: string) => CIDR.test(c) && isPrivateCidr(c);

export const noOpenRelay: StackValidationPolicy = {
  name: 'no-open-relay',
  description: 'Gateways relay unauthenticated mail only from private networks (relayNetworks empty or RFC 1918/loopback only), and inbound MX accepts only the hosted domains.',
  enforcementLevel: 'mandatory',
  tags: ['security', 'smtp', 'kubernetes', 'docker', 'proxmox', 'vsphere'],
  remediationSteps: 'Remove public ranges from gateway.relayNetworks (clients outside send through authenticated submission on 587/465).',
  validateStack: (args, reportViolation) => {
    const clusters = clustersOf(args);
    const pairs = pairsOf(args);
    reportUnreadable([...clusters.unreadable, ...pairs.unreadable], reportViolation);
    for (const v of [...clusters.views, ...pairs.views] as TopologyView<Spec>[]) {
      const publicNets = (v.spec.gateway?.relayNetworks ?? []).filter((c) => !privateCidr(c));
      if (publicNets.length > 0) {
        reportViolation(
          `${label(v)} lets ${publicNets.join(', ')} relay without authentication (gateway.relayNetworks): keep only private ranges (10/8, 172.16/12, 192.168/16, 127/8) or none; remote senders use authenticated submission.`,
          v.resource.urn,
        );
      }
      const hosted = new Set((v.spec.domains ?? []).map((d) => d.name));
      if (hosted.size === 0) {
        reportViolation(`${label(v)} hosts no domains: list the hosted domains so the MX rejects everything else.`, v.resource.urn);
      }
      for (const r of v.descendants) {
        for (const { path, config } of runtimeConfigsOf(r.props)) {
          if (config.role !== 'gateway' && config.role !== 'all') continue;
          const id = String(config.memberId);
          const nets = items(config.relayNetworks).map((x) => str(x) ?? String(x));
          const open = nets.filter((c) => !privateCidr(c));
          if (open.length > 0) {
            reportViolation(`gateway config ${id} (${r.name}, ${path}) relays for ${open.join(', ')}: relayNetworks may name private ranges only.`, r.urn);
          }
          const extra = items(config.hostedDomains).map((x) => str(x) ?? String(x)).filter((d) => !hosted.has(d));
          if (extra.length > 0) {
            reportViolation(`gateway config ${id} (${r.name}, ${path}) accepts mail for ${extra.join(', ')}, which the spec does not host: hostedDomains must be exactly the spec's domains.`, r.urn);
          }
        }
      }
    }
  },
};
