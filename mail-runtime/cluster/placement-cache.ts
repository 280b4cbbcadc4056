import { promises as fs } from 'node:fs';
import { dirname } from 'node:path';
import { writeFileAtomic } from '../common/atomic-file';
import type { Logger } from '../common/log';
import { PlacementRules, PlacementSnapshot } from '../hub/protocol';

/** Where a login is sent: the owner node and the address it is reached at for one protocol. */
export interface Route {
  node: string;
  host: string;
  port: number;
  /** The node's incarnation when the route was chosen (a later death ends the session). */
  incarnation: number;
}

/** Why no route exists; the proxy answers NO [UNAVAILABLE] / -ERR [SYS/TEMP], the gateway 451. */
export type NoRoute = { error: 'no-placement' | 'no-owner' | 'no-port'; node?: string };

/**
 * The placement rules a proxy routes logins by and a gateway its LMTP
 * deliveries (DESIGN.md: the hub is not on the
 * data path). Fed by the hub's stream; every new version is written to a
 * local file first, so a proxy restarted while no hub answers routes from
 * the last rules it saw. Owner = override ?? ring of the domain's pinned
 * live nodes ?? ring of all live nodes, after resolving alias domains
 * (hub/protocol/placement.ts, the same code every member runs).
 */
export class PlacementCache {
  private rules: PlacementRules | undefined;
  private writing: Promise<void> = Promise.resolve();

  constructor(
    private readonly file: string,
    private readonly log: Logger,
    private readonly onChange: (rules: PlacementRules) => void = () => undefined,
  ) {}

  /** The version routed by now; -1 before any rules are known. */
  get version(): number {
    return this.rules?.version ?? -1;
  }

  get current(): PlacementRules | undefined {
    return this.rules;
  }

  /** Loads the saved rules, if any; a damaged file is reported and ignored (the hub sends fresh ones). */
  async load(): Promise<boolean> {
    let text: string;
    try {
      text = await fs.readFile(this.file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw err;
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      this.log.warn({ file: this.file }, 'placement cache is not JSON; ignored');
      return false;
    }
    const parsed = PlacementSnapshot.safeParse(json);
    if (!parsed.success) {
      this.log.warn({ file: this.file, issues: parsed.error.issues.slice(0, 3) }, 'placement cache does not match the protocol; ignored');
      return false;
    }
    this.install(parsed.data);
    this.log.info({ version: parsed.data.version }, 'placement loaded from the local cache');
    return true;
  }

  /**
   * Takes a snapshot from the hub. An older version than the one in force is
   * ignored (a late answer from a hub that lost its lease). Persisted before
   * it resolves.
   */
  async apply(snapshot: PlacementSnapshot): Promise<boolean> {
    if (this.rules && snapshot.version < this.rules.version) return false;
    if (this.rules && snapshot.version === this.rules.version && JSON.stringify(snapshot) === JSON.stringify(this.rules.snapshot)) return false;
    this.install(snapshot);
    const text = JSON.stringify(snapshot);
    this.writing = this.writing
      .then(async () => {
        await fs.mkdir(dirname(this.file), { recursive: true });
        await writeFileAtomic(this.file, text, { durable: true });
      })
      .catch((err: unknown) => this.log.error({ err, file: this.file }, 'placement cache write failed'));
    await this.writing;
    return true;
  }

  private install(snapshot: PlacementSnapshot): void {
    // Debug trace of the failover path (hub "member declared dead" → "placement committed" → here): routes change now, before the file is written.
    this.log.debug({ version: snapshot.version }, 'placement installed');
    this.rules = new PlacementRules(snapshot);
    this.onChange(this.rules);
  }

  /** The owner of `address` and where to reach it for `protocol` (a port name the node registered: `imap`, `pop3`, `lmtp`). */
  route(address: string, protocol: string): Route | NoRoute {
    const rules = this.rules;
    if (!rules) return { error: 'no-placement' };
    const owner = rules.ownerOf(address);
    if (owner === null) return { error: 'no-owner' };
    const node = rules.node(owner);
    const port = node?.ports[protocol];
    if (!node || port === undefined) return { error: 'no-port', node: owner };
    return { node: owner, host: node.advertise, port, incarnation: node.incarnation };
  }
}
