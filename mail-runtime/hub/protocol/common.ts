import { z } from 'zod';
import { dnsLabel, domainName } from '../../config';

/**
 * Vocabulary shared by every message of the cluster protocol and the admin
 * API. Versioning: the URL prefix `/v1/` and `CLUSTER_PROTOCOL_VERSION` in
 * the register call name the wire contract. Within one version changes are
 * additive only: new optional fields, new stream event types (a member
 * ignores event types it does not know), new endpoints. Anything else is a
 * new version, served beside the old one until every member is upgraded.
 */
export const CLUSTER_PROTOCOL_VERSION = 1;
/** Versions this build can speak, newest first (the hub answers a register of another one with 400 naming these). */
export const SUPPORTED_PROTOCOL_VERSIONS: readonly number[] = [CLUSTER_PROTOCOL_VERSION];

/** RFC 5321 §4.5.3.1.3: a path is at most 256 octets including the angle brackets, so an address is at most 254. */
export const MAX_ADDRESS_LENGTH = 254;
/** RFC 5321 §4.5.3.1.1: a local part is at most 64 octets. */
export const MAX_LOCAL_PART_LENGTH = 64;

/**
 * A mailbox address as the directory stores it: lower-cased, trimmed,
 * `local@domain` with a dot-atom-ish local part (no spaces, no quotes: the
 * store maps it to a directory) and a host-name domain. Lower-casing the
 * local part is our policy (RFC 5321 §2.4 lets a server treat it
 * case-insensitively; every mainstream provider does).
 */
export const address = z
  .string()
  .trim()
  .toLowerCase()
  .max(MAX_ADDRESS_LENGTH, `an address is at most ${MAX_ADDRESS_LENGTH} characters (RFC 5321 §4.5.3.1.3)`)
  .regex(/^[a-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[a-z0-9!#$%&'*+/=?^_`{|}~-]+)*@[^@\s]+$/, 'must be an address local@domain whose local part is a dot-atom (RFC 5322 §3.4.1)')
  .refine((a) => a.indexOf('@') <= MAX_LOCAL_PART_LENGTH, `the local part is at most ${MAX_LOCAL_PART_LENGTH} characters (RFC 5321 §4.5.3.1.1)`)
  .refine((a) => domainName.safeParse(a.slice(a.indexOf('@') + 1)).success, 'the domain part must be a host name such as example.net');

/** A domain name, lower-cased. */
export const domain = z.string().trim().toLowerCase().pipe(domainName);

/** A member id (`demo-node-0`): a DNS label, as in RuntimeConfig. */
export const memberId = dnsLabel;

export const MEMBER_ROLES = ['hub', 'node', 'gateway', 'proxy'] as const;
export const memberRole = z.enum(MEMBER_ROLES);
export type MemberRole = z.infer<typeof memberRole>;

/** Per-user storage limits; absent = unlimited (mail-runtime/auth Quota). */
export const quota = z.strictObject({
  bytes: z.number().int().nonnegative().optional(),
  messages: z.number().int().nonnegative().optional(),
});
export type Quota = z.infer<typeof quota>;

/** A placement or settings version: positive, monotonic, persisted by the hub. */
export const version = z.number().int().nonnegative();

/** Domain part of a (valid) address. */
export function domainOf(addr: string): string {
  return addr.slice(addr.lastIndexOf('@') + 1);
}

/** Local part of a (valid) address. */
export function localPartOf(addr: string): string {
  return addr.slice(0, addr.lastIndexOf('@'));
}
