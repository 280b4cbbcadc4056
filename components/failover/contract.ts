import { z } from 'zod';

/**
 * What the primary site's stack exports for the standby site's stack (read
 * there through a StackReference). Two stack outputs: `failover` (facts, no
 * secrets, which the standby also copies into its own outputs so stack
 * policies can see them) and `failoverCredential` (the primary's
 * least-privilege power credential, a Pulumi secret). The standby parses
 * both with these schemas: a StackReference is a boundary like any other.
 */

/** The primary member's power target as the controller needs it, without the controller-local credential file paths. */
export const PrimaryPower = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('kubernetes'), apiServer: z.string().min(1), namespace: z.string().min(1), workload: z.object({ kind: z.enum(['StatefulSet', 'Deployment']), name: z.string().min(1) }) }),
  // tls: the engine wants a client certificate (--tlsverify); the bundle is the credential, as a secret.
  z.object({ kind: z.literal('docker'), endpoint: z.string().min(1), container: z.string().min(1), tls: z.boolean().optional() }),
  z.object({ kind: z.literal('proxmox'), endpoint: z.string().min(1), node: z.string().min(1), vmid: z.number().int(), tokenId: z.string().min(1) }),
  z.object({ kind: z.literal('vsphere'), endpoint: z.string().min(1), vm: z.string().min(1), username: z.string().min(1) }),
]);
export type PrimaryPower = z.infer<typeof PrimaryPower>;

export const PrimaryFacts = z.object({
  /** The pair (spec.name) this primary belongs to: a standby refuses another pair's facts. */
  pair: z.string().min(1),
  site: z.string().min(1),
  memberId: z.string().min(1),
  /** Where the controller probes the primary (its advertised address). */
  address: z.string().min(1),
  /** Where the primary's platform is managed from (policies compare it with the standby's). */
  platformEndpoints: z.array(z.string()),
  /** The storage export the primary writes to (`nfs server:/path`, `pvc class`...). */
  storage: z.string().min(1),
  /** Directory of the site lease on that storage (mail-runtime/failover: `<storage>/failover/`). */
  leaseDir: z.string().min(1),
  /** How the controller fences the primary (the credential travels apart, as a secret). */
  power: PrimaryPower,
  /** What the traffic switch moves: the public host name and the primary's client address. */
  traffic: z.object({ hostname: z.string().min(1), address: z.string().min(1) }),
});
export type PrimaryFacts = z.infer<typeof PrimaryFacts>;

/** Stack output names on the primary stack. */
export const PRIMARY_OUTPUTS = { facts: 'failover', credential: 'failoverCredential' } as const;

/** Parses the primary's facts; the error names the stack output and each bad field. */
export function parsePrimaryFacts(value: unknown, from: string): PrimaryFacts {
  const r = PrimaryFacts.safeParse(value);
  if (r.success) return r.data;
  const problems = r.error.issues.map((i) => `  - ${PRIMARY_OUTPUTS.facts}.${i.path.join('.')}: ${i.message}`).join('\n');
  throw new Error(`stack output "${PRIMARY_OUTPUTS.facts}" of ${from} is not a mailfleet primary's facts (deploy the primary stack with this version first):\n${problems}`);
}
