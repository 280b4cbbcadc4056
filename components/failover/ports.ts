import type { RuntimeConfig } from '../../mail-runtime/config';
import { CLIENT_PORTS } from '../platforms/types';

/**
 * The ports a failover site publishes: the mail client ports only. LMTP,
 * the admin API and the management port stay inside the site
 * (tls-everywhere and admin-api-private hold the pair to the same rule as a cluster).
 */
export function clientPorts(config: RuntimeConfig): number[] {
  const listen = config.listen as Partial<Record<string, { port: number }>>;
  return CLIENT_PORTS.flatMap((p) => (listen[p] ? [listen[p].port] : []));
}
