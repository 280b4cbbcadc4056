import type { Directory } from '../auth';
import type { LmtpTarget, Route, Router } from '../smtp/routing/types';

/**
 * The node's answer to "where does this recipient go" until the hub's
 * placement map replaces it (issue 12): an address the directory knows
 * (user or alias) is a hosted mailbox on this node; anything else leaves
 * through the queue, where the gateway's routing (which knows the hosted
 * domains) delivers it or bounces it.
 */
export function directoryRouter(directory: Directory, self: LmtpTarget): Router {
  return {
    async route(address: string): Promise<Route> {
      const user = await directory.lookup(address);
      if (user) return { kind: 'local', address: user.address, node: self };
      const at = address.lastIndexOf('@');
      return { kind: 'remote', address, domain: address.slice(at + 1).toLowerCase() };
    },
  };
}
