import { normalizeAddress, type Directory } from '../../auth';
import type { LmtpTarget, Route, Router } from './types';

/** RuntimeConfig `placement` (gateway role), already validated. */
export interface StaticPlacement {
  default?: LmtpTarget;
  /** Domain or address (any case) → node. */
  routes: Readonly<Record<string, LmtpTarget>>;
}

export interface StaticRouterOptions {
  /** RuntimeConfig `hostedDomains`: mail for these ends here; anything else is remote. */
  hostedDomains: readonly string[];
  /** Who exists (users and aliases): the users file until the hub serves the directory. */
  directory: Directory;
  placement: StaticPlacement;
}

/** A hosted mailbox that no placement entry names: the caller answers 4xx so the sender retries. */
export class NoPlacementError extends Error {
  constructor(readonly address: string) {
    super(`no node is placed for ${address} (RuntimeConfig placement has no default and no route for it or its domain)`);
    this.name = 'NoPlacementError';
  }
}

/**
 * The directory cannot say what a recipient is now (the hub unreachable and
 * no answer for the address in the gateway's cache): the sender is told to
 * retry (450 4.4.3, RFC 3463 "directory server failure"), never 550.
 */
export class DirectoryUnavailableError extends Error {
  constructor(
    readonly address: string,
    options?: { cause?: unknown },
  ) {
    super(`the directory cannot be reached to look up ${address}`, options);
    this.name = 'DirectoryUnavailableError';
  }
}

/** The domain of an address (after the last `@`), lower-cased. */
export function domainOf(address: string): string {
  return address.slice(address.lastIndexOf('@') + 1).toLowerCase();
}

/**
 * The routing seam until the hub exists (issue 12 swaps in its placement
 * map behind the same Router interface): hosted domains from RuntimeConfig,
 * users and aliases from the directory, the node from a static map. An alias
 * routes as the mailbox it names, so mail for a user's several addresses is
 * delivered once to the one mailbox.
 */
export class StaticRouter implements Router {
  private readonly hosted: ReadonlySet<string>;
  private readonly routes: ReadonlyMap<string, LmtpTarget>;

  constructor(private readonly opts: StaticRouterOptions) {
    this.hosted = new Set(opts.hostedDomains.map((d) => d.toLowerCase()));
    this.routes = new Map(Object.entries(opts.placement.routes).map(([k, v]) => [k.toLowerCase(), v]));
  }

  async route(address: string): Promise<Route> {
    const addr = normalizeAddress(address);
    const domain = domainOf(addr);
    if (!this.hosted.has(domain)) return { kind: 'remote', address: addr, domain };
    const user = await this.opts.directory.lookup(addr);
    if (!user) return { kind: 'unknown-user', address: addr };
    const mailbox = user.address;
    const node =
      this.routes.get(mailbox) ?? this.routes.get(addr) ?? this.routes.get(domainOf(mailbox)) ?? this.routes.get(domain) ?? this.opts.placement.default;
    if (!node) throw new NoPlacementError(mailbox);
    return { kind: 'local', address: mailbox, node };
  }
}
