import { isIP } from 'node:net';
import type { MemberSubject } from './ca';

/** A name the hub will not certify for this member, and why (the API answers 403 naming `path`). */
export interface NameRefusal {
  path: string;
  message: string;
}

/** Another registered member (any role, alive or dead: a dead member's name is still its own). */
export interface OtherMember {
  id: string;
  role: string;
  advertise: string;
}

/** `::ffff:10.0.0.1` (an IPv4 client on a dual-stack socket) → `10.0.0.1`. */
function plainAddress(a: string): string {
  return a.startsWith('::ffff:') && isIP(a.slice(7)) === 4 ? a.slice(7) : a.toLowerCase();
}

/**
 * What the hub certifies for a member (POST /v1/cluster/certificate): its
 * member id always; as DNS names only its advertised host (what peers dial
 * it by, RegisterRequest.advertise); as IP addresses its advertised address
 * and the address its request came from. Anything else is refused, with
 * the reason a peer would care about first: another member's id or
 * advertised host, or the hub's own name (a certificate naming it would let
 * the member stand in for that peer or the hub, RFC 6125 §6). A host shared
 * by several members (one machine, loopback) may be named by each of them:
 * it identifies the machine, and the member id is what peers check.
 */
export function memberSubject(
  req: { memberId: string; names: readonly string[]; ips: readonly string[] },
  self: { advertise: string },
  others: readonly OtherMember[],
  hub: { id: string; host: string },
  source: string | undefined,
): { subject: MemberSubject; refused: NameRefusal[] } {
  const refused: NameRefusal[] = [];
  const own = self.advertise.toLowerCase();
  const ownIp = isIP(own) ? plainAddress(own) : undefined;
  const from = source ? plainAddress(source) : undefined;
  const hubHost = hub.host.toLowerCase().replace(/^\[(.*)\]$/, '$1');
  const whose = (name: string): string | undefined => {
    if (name === hub.id || name === hubHost) return `the hub's name (${name === hub.id ? 'its member id' : 'its URL host'})`;
    const o = others.find((m) => m.id === name) ?? others.find((m) => m.advertise.toLowerCase() === name);
    if (!o) return undefined;
    return o.id === name ? `the member id of ${o.role} ${o.id}` : `the advertised host of ${o.role} ${o.id}`;
  };
  const dns: string[] = [];
  req.names.forEach((raw, i) => {
    const name = raw.toLowerCase();
    if (name === req.memberId || name === own) {
      if (name !== req.memberId) dns.push(name);
      return;
    }
    const owner = whose(name);
    refused.push({ path: `body.names.${i}`, message: owner ? `${name} is ${owner}: a member is certified only under its own names` : `${name} is not a name of ${req.memberId}: the hub certifies only the member id and its advertised host (${self.advertise})` });
  });
  const ips: string[] = [];
  req.ips.forEach((raw, i) => {
    const ip = plainAddress(raw);
    if (ip === ownIp || ip === from) {
      ips.push(ip);
      return;
    }
    const owner = whose(ip);
    refused.push({ path: `body.ips.${i}`, message: owner ? `${ip} is ${owner}: a member is certified only under its own addresses` : `${ip} is neither the advertised address of ${req.memberId} nor the address its request came from` });
  });
  return { subject: { memberId: req.memberId, dns: [...new Set(dns)], ips: [...new Set(ips)] }, refused };
}
