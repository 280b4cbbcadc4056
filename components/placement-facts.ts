import { z } from 'zod';

/**
 * Placement facts: which nodes of a running cluster still own mailboxes,
 * as `mailfleet placement export` writes them from the hub's admin API.
 *
 * Why an operator-supplied fact: a `pulumi preview` cannot ask the hub
 * (it runs with no route to the cluster, often in a CI job with no cloud
 * credentials either), and a stack's previous outputs say what was
 * deployed, not where mailboxes are now. So the operator exports the hub's
 * view into stack config (`mailfleet:placement`) right before changing
 * `nodes.count`, and MailCluster refuses to remove a node the facts say
 * still owns mailboxes: removing it first and moving its mailboxes after
 * would leave them without an owner until the hub declared the node dead
 * (the dead-after wait, with deliveries deferred), instead of the clean
 * two-phase move a drain does (mail-runtime/hub/placement/manager.ts).
 */

/** What `mailfleet placement export` writes; the first line of a reader's check. */
export const PLACEMENT_FACTS_FORMAT = 'mailfleet-placement/1';

/** Facts older than this draw a warning: mailboxes may have moved since (a drain undone, a node added). */
export const PLACEMENT_FACTS_FRESH_MS = 60 * 60 * 1000;

const nodeFact = z.strictObject({
  /** Member id, `<cluster>-node-<i>` for nodes a stack deploys. */
  id: z.string().min(1).max(200),
  state: z.enum(['active', 'drained', 'dead']),
  /** Mailboxes the node owns under the committed placement. */
  mailboxes: z.number().int().nonnegative(),
});

export const PlacementFacts = z.strictObject({
  format: z.literal(PLACEMENT_FACTS_FORMAT, { error: `must be "${PLACEMENT_FACTS_FORMAT}": write it with \`mailfleet placement export\`` }),
  /** When the hub was asked (ISO 8601). */
  exportedAt: z.iso.datetime({ offset: true }),
  /** The hub's committed placement version the counts are from. */
  placementVersion: z.number().int().nonnegative(),
  nodes: z.array(nodeFact).max(10_000),
  /** Users no node could serve at export time. */
  unplaced: z.number().int().nonnegative(),
});
export type PlacementFacts = z.output<typeof PlacementFacts>;

/** What a spec change does to the nodes the facts know of. */
export interface NodeChanges {
  /** Nodes the facts know that the spec no longer deploys, with the mailboxes they still own. */
  removed: { id: string; mailboxes: number }[];
  /** Nodes the spec deploys that the facts do not know: they register with the hub and join the ring. */
  joining: string[];
}

/** Compares the node ids a spec deploys with the facts. */
export function nodeChanges(facts: PlacementFacts, deployed: readonly string[]): NodeChanges {
  const keep = new Set(deployed);
  const known = new Set(facts.nodes.map((n) => n.id));
  return {
    removed: facts.nodes.filter((n) => !keep.has(n.id)).map((n) => ({ id: n.id, mailboxes: n.mailboxes })),
    joining: deployed.filter((id) => !known.has(id)),
  };
}

/** Why a removal is refused, naming each node and the command that empties it; undefined when every removed node is empty. */
export function removalRefusal(changes: NodeChanges, facts: PlacementFacts): string | undefined {
  const owning = changes.removed.filter((n) => n.mailboxes > 0);
  if (owning.length === 0) return undefined;
  const list = owning.map((n) => `${n.id} (${n.mailboxes} mailbox${n.mailboxes === 1 ? '' : 'es'})`).join(', ');
  return (
    `nodes.count removes ${owning.length === 1 ? 'a node that still owns' : 'nodes that still own'} mailboxes: ${list}, ` +
    `per the placement facts in mailfleet:placement (exported ${facts.exportedAt}, placement version ${facts.placementVersion}). ` +
    `Drain first: ${owning.map((n) => `\`mailfleet placement drain ${n.id}\``).join(', ')}; then ` +
    '`pulumi config set mailfleet:placement "$(mailfleet placement export)"` and run `pulumi up` again.'
  );
}
