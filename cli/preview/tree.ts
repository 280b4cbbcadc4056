import { isSecretValue, type CapturedResource } from '../../components';

/**
 * The human-readable resource tree: type, name and a few key inputs per
 * resource, children indented under their parent.
 */

/** Input paths worth showing first, by the last segment of the path. */
const KEY_INPUTS = [
  'replicas', 'image', 'storageClassName', 'accessModes', 'storage', 'type', 'restart', 'nodeName', 'targetNode',
  'cores', 'numCpus', 'cpu', 'memory', 'dedicated', 'vmId', 'templateUuid', 'datastoreId', 'contentType', 'ports', 'port',
  'vip', 'name', 'namespace', 'driver', 'state', 'group', 'enabled', 'mandatory', 'virtualMachineIds', 'nodes',
];
const MAX_SHOWN = 5;

function leaves(value: unknown, path: string, out: Array<[string, string]>, depth: number): void {
  if (out.length > 200 || depth > 6) return;
  if (isSecretValue(value)) {
    out.push([path, '[secret]']);
    return;
  }
  if (value === null || value === undefined) return;
  if (Array.isArray(value)) {
    if (value.every((v) => typeof v !== 'object' || v === null)) {
      out.push([path, `[${value.map((v) => String(v)).join(',')}]`]);
      return;
    }
    value.forEach((v, i) => leaves(v, `${path}[${i}]`, out, depth + 1));
    return;
  }
  if (typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) leaves(v, path ? `${path}.${k}` : k, out, depth + 1);
    return;
  }
  const text = String(value).replace(/\s+/g, ' ');
  out.push([path, text.length > 48 ? `${text.slice(0, 45)}...` : text]);
}

const depthOf = (p: string) => (p.match(/[.[]/g) ?? []).length;

export function keyInputs(inputs: Record<string, unknown>): string {
  const all: Array<[string, string]> = [];
  leaves(inputs, '', all, 0);
  const last = (p: string) => p.replace(/\[\d+\]/g, '').split('.').pop() ?? p;
  const ranked = all
    .map(([p, v]) => ({ p, v, rank: KEY_INPUTS.indexOf(last(p)) }))
    .filter((x) => x.rank >= 0)
    // Same key at several depths (a VM's nodeName vs its clone.nodeName):
    // the shallower one describes the resource itself.
    .sort((a, b) => a.rank - b.rank || depthOf(a.p) - depthOf(b.p));
  const seen = new Set<string>();
  const shown: string[] = [];
  for (const x of ranked) {
    if (seen.has(last(x.p)) || shown.length >= MAX_SHOWN) continue;
    seen.add(last(x.p));
    shown.push(`${last(x.p)}=${x.v}`);
  }
  return shown.join(' ');
}

export function renderTree(resources: readonly CapturedResource[]): string {
  const byParent = new Map<string | undefined, CapturedResource[]>();
  const urns = new Set(resources.map((r) => r.urn));
  for (const r of resources) {
    const parent = r.parent && urns.has(r.parent) ? r.parent : undefined;
    byParent.set(parent, [...(byParent.get(parent) ?? []), r]);
  }
  const lines: string[] = [];
  const walk = (parent: string | undefined, prefix: string) => {
    const children = byParent.get(parent) ?? [];
    children.forEach((r, i) => {
      const lastChild = i === children.length - 1;
      const branch = parent === undefined ? '' : lastChild ? '└─ ' : '├─ ';
      const inputs = r.custom ? keyInputs(r.inputs) : '';
      lines.push(`${prefix}${branch}${r.type}  ${r.name}${inputs ? `  (${inputs})` : ''}`);
      walk(r.urn, parent === undefined ? prefix : `${prefix}${lastChild ? '   ' : '│  '}`);
    });
  };
  walk(undefined, '');
  return `${lines.join('\n')}\n`;
}
