import * as pulumi from '@pulumi/pulumi';
import type { Capture } from '../../components/offline/capture';

/**
 * What the Pulumi engine does with aliases when a program is run against an
 * existing state, for tests that cannot run the engine. The SDK sends alias
 * specs as written (under mocks and with every engine since alias specs,
 * `supportsAliasSpecs`) and the engine derives the rest; this follows
 * pkg/resource/deploy/step_generator.go (`generateURN`, `collapseAliasToUrn`,
 * `inheritedChildAlias`, `generateAliases`):
 *
 * - a URN carries the parent's full qualified type (`A$B$C`), never the
 *   parent's name (the mock monitor keeps only the last parent type, so URNs
 *   are recomputed here);
 * - a resource whose parent was found in the old state through an alias gets
 *   one more alias: its own name with the parent's name prefix replaced by
 *   the matched old parent's name, under the old parent's type;
 * - the URN is looked up first, then each alias; a match through an alias is
 *   remembered for the children.
 */

/** An alias spec as the SDK sends it; empty fields mean "same as the resource". */
export interface AliasSpec {
  name?: string;
  type?: string;
}

/** Records each registration's alias specs, by (mock) URN. Call after installCapture. */
export function recordAliases(): Map<string, AliasSpec[]> {
  interface AliasSpecProto {
    getName(): string;
    getType(): string;
    getStack(): string;
    getProject(): string;
    getParenturn(): string;
    getNoparent(): boolean;
  }
  interface AliasProto {
    hasSpec(): boolean;
    getSpec(): AliasSpecProto | undefined;
    getUrn(): string;
  }
  interface Req {
    getAliasesList(): AliasProto[];
    getParent(): string;
  }
  interface Monitor {
    registerResource(req: Req, cb: (err: Error | null, resp?: { getUrn(): string }) => void): unknown;
  }
  const byUrn = new Map<string, AliasSpec[]>();
  const monitor = pulumi.runtime.getMonitor() as unknown as Monitor;
  const original = monitor.registerResource.bind(monitor);
  monitor.registerResource = (req, cb) =>
    original(req, (err, resp) => {
      if (!err && resp) {
        byUrn.set(
          resp.getUrn(),
          req.getAliasesList().map((a) => {
            const spec = a.hasSpec() ? a.getSpec() : undefined;
            // Only what mailfleet and its providers' SDKs send: a new name and/or type under the
            // same parent (the SDK fills in the resource's own parent when the alias names none).
            if (!spec || spec.getStack() || spec.getProject() || spec.getNoparent() || (spec.getParenturn() && spec.getParenturn() !== req.getParent())) {
              throw new Error(`alias form not modelled: ${a.getUrn() || 'spec'}`);
            }
            return { ...(spec.getName() ? { name: spec.getName() } : {}), ...(spec.getType() ? { type: spec.getType() } : {}) };
          }),
        );
      }
      cb(err, resp);
    });
  return byUrn;
}

interface Node {
  type: string;
  name: string;
  /** Engine URN. */
  urn: string;
  parent?: Node;
  aliases: AliasSpec[];
  depth: number;
}

const nameOf = (urn: string) => urn.slice(urn.lastIndexOf('::') + 2);
const qualifiedTypeOf = (urn: string) => urn.split('::')[2]!;

/** Rebuilds the engine's URNs from a capture (parents before children). */
function nodesOf(cap: Capture, aliases: Map<string, AliasSpec[]>, stack: string, project: string): Node[] {
  const byMockUrn = new Map(cap.resources.map((r) => [r.urn, r]));
  const memo = new Map<string, Node>();
  const build = (mockUrn: string): Node | undefined => {
    const r = byMockUrn.get(mockUrn);
    if (!r) return undefined; // the root Stack: children of the stack are top level
    const cached = memo.get(mockUrn);
    if (cached) return cached;
    const parent = r.parent ? build(r.parent) : undefined;
    const qualified = parent ? `${qualifiedTypeOf(parent.urn)}$${r.type}` : r.type;
    const node: Node = {
      type: r.type,
      name: r.name,
      urn: `urn:pulumi:${stack}::${project}::${qualified}::${r.name}`,
      parent,
      aliases: aliases.get(mockUrn) ?? [],
      depth: parent ? parent.depth + 1 : 0,
    };
    memo.set(mockUrn, node);
    return node;
  };
  return cap.resources.map((r) => build(r.urn)!).sort((a, b) => a.depth - b.depth);
}

export interface AliasOutcome {
  /** New URN → the old URN it takes over (itself when unchanged). */
  moved: Map<string, string>;
  /** New resources that match nothing in the old state: the engine would create them. */
  created: string[];
  /** Old resources nothing claims: the engine would delete them. */
  deleted: string[];
}

/**
 * Runs the engine's alias resolution for a program registration (`next`)
 * against the state another registration (`prev`) left behind.
 */
export function resolveAgainst(
  prev: { cap: Capture; aliases: Map<string, AliasSpec[]> },
  next: { cap: Capture; aliases: Map<string, AliasSpec[]> },
  stack: string,
  project: string,
): AliasOutcome {
  const olds = new Set(nodesOf(prev.cap, prev.aliases, stack, project).map((n) => n.urn));
  const matchedAlias = new Map<string, string>(); // sg.aliases
  const moved = new Map<string, string>();
  const created: string[] = [];
  for (const n of nodesOf(next.cap, next.aliases, stack, project)) {
    // collapseAliasToUrn: the alias keeps the resource's parent, and a parent
    // that was itself found through an alias stands for its old URN.
    const collapse = (a: AliasSpec) => {
      const parent = n.parent ? (matchedAlias.get(n.parent.urn) ?? n.parent.urn) : undefined;
      const prefix = parent ? `${qualifiedTypeOf(parent)}$` : '';
      return `urn:pulumi:${stack}::${project}::${prefix}${a.type ?? n.type}::${a.name ?? n.name}`;
    };
    const inherited = (type: string, name: string, parentName: string, parentAlias: string) =>
      `urn:pulumi:${stack}::${project}::${qualifiedTypeOf(parentAlias)}$${type}::${name.startsWith(parentName) ? nameOf(parentAlias) + name.slice(parentName.length) : name}`;
    const candidates = n.aliases.map(collapse);
    const parentAlias = n.parent ? matchedAlias.get(n.parent.urn) : undefined;
    if (n.parent && parentAlias) {
      candidates.push(inherited(n.type, n.name, n.parent.name, parentAlias));
      for (const a of n.aliases) candidates.push(inherited(a.type ?? n.type, a.name ?? n.name, n.parent.name, parentAlias));
    }
    const found = olds.has(n.urn) ? n.urn : candidates.find((c) => olds.has(c));
    if (!found) {
      created.push(n.urn);
      continue;
    }
    if (found !== n.urn) matchedAlias.set(n.urn, found);
    moved.set(n.urn, found);
  }
  const claimed = new Set(moved.values());
  return { moved, created, deleted: [...olds].filter((u) => !claimed.has(u)) };
}
