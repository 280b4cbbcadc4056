import { isIP } from 'node:net';
import { z } from 'zod';
import { dnsLabel, hostPort } from '../../config';
import { address, domain, version } from './common';

/**
 * Cluster-wide settings: one versioned document on the hub, pushed to every
 * member, applied live (no restart). Each top-level section is applied by
 * whoever registered for it (a node applies `limits` and `blocklist`, a
 * gateway `filters` and `dkim`, every TLS listener `tls`); a member reports
 * the version it applied in its heartbeats. Sections are optional: absent
 * means "the member's own RuntimeConfig value stands".
 */

/** An IPv4/IPv6 address or CIDR block (`192.0.2.7`, `198.51.100.0/24`, `2001:db8::/32`). */
export const ipOrCidr = z
  .string()
  .trim()
  .refine((s) => {
    const [ip, bits, extra] = s.split('/');
    if (extra !== undefined || ip === undefined) return false;
    const family = isIP(ip);
    if (family === 0) return false;
    if (bits === undefined) return true;
    if (!/^\d{1,3}$/.test(bits)) return false;
    return Number(bits) <= (family === 4 ? 32 : 128);
  }, 'must be an IP address or CIDR block such as 192.0.2.7, 198.51.100.0/24 or 2001:db8::/32');

/** The limits of RuntimeConfig `limits` a cluster may set for all members at once (same meaning, same RFCs). */
export const SettingsLimits = z.strictObject({
  /** Client connections per member (RuntimeConfig limits.maxConnections). */
  maxConnections: z.number().int().min(1).optional(),
  /** Largest message accepted (RuntimeConfig limits.maxMessageBytes; RFC 1870 SIZE, RFC 7889 APPENDLIMIT). */
  maxMessageBytes: z.number().int().min(1024).optional(),
});

export const SettingsBlocklist = z.strictObject({
  /** Client addresses refused by every member (logins refused on nodes, connections on gateways). */
  ips: z.array(ipOrCidr).max(100_000).default([]),
  /** Envelope senders (addresses or whole domains) refused by gateways. */
  senders: z.array(z.union([address, domain])).max(100_000).default([]),
});

export const SettingsFilters = z.strictObject({
  clamd: z.strictObject({ address: hostPort }).optional(),
  spam: z.strictObject({ kind: z.enum(['spamd', 'rspamd']), address: hostPort }).optional(),
});

const pem = (label: string) =>
  z
    .string()
    .refine((s) => new RegExp(`-----BEGIN ${label}-----[\\s\\S]+-----END ${label}-----`).test(s), `must be a PEM block (-----BEGIN ${label}-----)`);

export const SettingsTls = z.strictObject({
  /** The public certificate chain client listeners present, replacing the file-based one live. */
  certPem: pem('CERTIFICATE'),
  keyPem: pem('(?:RSA |EC )?PRIVATE KEY'),
});

export const SettingsDkimKey = z.strictObject({ selector: dnsLabel, privateKeyPem: pem('(?:RSA )?PRIVATE KEY') });

/**
 * The IMAP `Shared/` namespace (RFC 2342 "shared namespace", the third part of the NAMESPACE response, §5): per domain, the users who
 * administer its shared folders (node RuntimeConfig `sharedFolders`, which
 * this replaces live on every node).
 */
export const SettingsSharedFolders = z.strictObject({
  admins: z.record(domain, z.array(address).max(1000)).superRefine((admins, ctx) => {
    for (const [d, users] of Object.entries(admins)) {
      users.forEach((u, i) => {
        if (!u.endsWith(`@${d}`)) ctx.addIssue({ code: 'custom', path: [d, i], message: `${u} is not an address of ${d}: a domain's shared folders are administered by its own users` });
      });
    }
  }),
});

export const ClusterSettings = z.strictObject({
  limits: SettingsLimits.optional(),
  blocklist: SettingsBlocklist.optional(),
  filters: SettingsFilters.optional(),
  tls: SettingsTls.optional(),
  /** DKIM signing keys per domain (RFC 6376). */
  dkim: z.record(domain, SettingsDkimKey).optional(),
  sharedFolders: SettingsSharedFolders.optional(),
});
export type ClusterSettings = z.output<typeof ClusterSettings>;
export type SettingsSection = keyof ClusterSettings;

/** Version 0 is the empty document every cluster starts with. */
export const SettingsSnapshot = z.strictObject({ version, settings: ClusterSettings });
export type SettingsSnapshot = z.output<typeof SettingsSnapshot>;

/** Private keys in a settings document, for answers to operators (the members receive them in full). */
export const REDACTED = '[redacted]';

export function redactSettings(s: ClusterSettings): ClusterSettings {
  const out: ClusterSettings = { ...s };
  if (s.tls) out.tls = { ...s.tls, keyPem: REDACTED };
  if (s.dkim) out.dkim = Object.fromEntries(Object.entries(s.dkim).map(([d, k]) => [d, { ...k, privateKeyPem: REDACTED }]));
  return out;
}
