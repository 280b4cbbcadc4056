import type { StackValidationPolicy } from '@pulumi/policy';
import { isPrivateCidr } from '../lib/cidr';
import { exposuresOf } from '../lib/exposure';
import { clustersOf, label, pairsOf, reportUnreadable, type TopologyView } from '../lib/topology';

/**
 * 7. The hub's admin API is not public. It can create users, move mailboxes
 * and read every setting; a bearer token is its only lock. It stays on the
 * cluster network (operators reach it over a VPN, a bastion or
 * `kubectl port-forward`), never behind the public load balancer.
 */

type Spec = { admin?: { public?: boolean; allowedCidrs?: string[] } };

const CIDR = /^\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}\/\d{1,2}$/;

export const adminApiPrivate: StackValidationPolicy = {
  name: 'admin-api-private',
  description: "The hub admin API is never exposed through a public load balancer, Service or published port; only private networks may be allowed to reach it.",
  enforcementLevel: 'mandatory',
  tags: ['security', 'admin', 'kubernetes', 'docker', 'proxmox', 'vsphere'],
  remediationSteps: 'Set admin.public to false and reach the admin API over a private network (admin.allowedCidrs with private ranges, a VPN or kubectl port-forward).',
  validateStack: (args, reportViolation) => {
    const clusters = clustersOf(args);
    const pairs = pairsOf(args);
    reportUnreadable([...clusters.unreadable, ...pairs.unreadable], reportViolation);
    for (const v of [...clusters.views, ...pairs.views] as TopologyView<Spec>[]) {
      if (v.spec.admin?.public === true) {
        reportViolation(`${label(v)} publishes the hub admin API on the public load balancer (admin.public: true): set admin.public to false and reach the API over a private network.`, v.resource.urn);
      }
      const open = (v.spec.admin?.allowedCidrs ?? []).filter((c) => !(CIDR.test(c) && isPrivateCidr(c)));
      if (open.length > 0) {
        reportViolation(`${label(v)} allows ${open.join(', ')} to reach the admin API (admin.allowedCidrs): list private ranges only.`, v.resource.urn);
      }
      // Skip resource-level findings already explained by admin.public, to report the cause once.
      if (v.spec.admin?.public === true) continue;
      for (const e of exposuresOf(v.descendants)) {
        const hubTraffic = e.component === 'hub' || e.frontend === 'admin' || e.port === 443;
        if (hubTraffic) {
          reportViolation(`"${e.resource.name}" exposes the hub admin API (port ${e.port}, ${e.how}) to clients; remove it from the public load balancer.`, e.resource.urn);
        }
      }
    }
  },
};
