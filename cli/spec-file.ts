import { readConfigFile } from '../mail-runtime/config';
import type { TopologySpec } from '../components';
import { loadComponents } from './load-components';

/**
 * Reads and validates a topology spec file. The CLI is the one runtime module
 * that reads topology; components/ is loaded when a spec is read (./load-components.ts).
 */
export function loadSpecFile(file: string): TopologySpec {
  return loadComponents().parseTopologySpec(readConfigFile(file));
}

/** A one-line summary of a valid spec, for `validate`. */
export function summarize(spec: TopologySpec): string {
  const n = (count: number, word: string, plural = `${word}s`) => `${count} ${count === 1 ? word : plural}`;
  const domains = n(spec.domains.length, 'domain');
  if (spec.kind === 'failover-pair') {
    return `failover pair "${spec.name}" (${spec.environment}): primary ${spec.primary.site.name} on ${spec.primary.platform.kind}, standby ${spec.standby.site.name} on ${spec.standby.platform.kind}, ${spec.failover.mode} failover, ${domains}`;
  }
  return `cluster "${spec.name}" (${spec.environment}) on ${spec.platform.kind}: ${n(spec.hubs.count, 'hub')}, ${n(spec.nodes.count, 'node')}, ${n(spec.gateways.count, 'gateway')}, ${n(spec.proxies.count, 'proxy', 'proxies')}, ${spec.storage.kind} storage, ${domains}`;
}
