import type { Command } from 'commander';
import { z } from 'zod';
import { Domain, DomainPage, MemberList, OwnerAnswer, PlacementChangeAnswer, PlacementSummary, PlacementView } from '../../mail-runtime/hub/protocol';
import { PLACEMENT_FACTS_FORMAT, PlacementFacts } from '../../components/placement-facts';
import { adminCall, hubOptions, hubStates, printJson, resolveHub, runAdmin, table, type HubOptions } from '../admin-client';
import type { CliIo } from '../io';

/**
 * Operator commands against a running cluster's hub (admin API):
 * `mailfleet status`, `mailfleet domain add|list|remove`,
 * `mailfleet placement show|export|move|drain|undrain`. The `user` ones are in user-admin.ts.
 */

const Ok = z.object({ ok: z.literal(true) });

function age(ms: number | null): string {
  if (ms === null) return '-';
  return ms < 10_000 ? `${(ms / 1000).toFixed(1)}s` : `${Math.round(ms / 1000)}s`;
}

export function registerStatus(program: Command, io: CliIo, setExit: (code: number) => void): void {
  hubOptions(program.command('status').description('the running cluster: members (role, state, heartbeat age) and mailboxes per node')).action((opts: HubOptions) =>
    runAdmin(io, setExit, 'status', async () => {
      const hub = await resolveHub(opts);
      // Members and placement from the active hub (adminCall finds it); then what every listed hub says it is.
      const [members, placement] = await Promise.all([adminCall(hub, 'GET', '/v1/members', MemberList), adminCall(hub, 'GET', '/v1/placement/summary', PlacementSummary)]);
      const hubs = await hubStates(hub);
      const self = hubs.find((h) => h.url === hub.answered && h.state) ?? hubs.find((h) => h.state?.active);
      if (opts.json) return printJson(io, { hub: self?.state ? { url: self.url, ...self.state } : null, hubs, members: members.members, placement });
      const says = (h: (typeof hubs)[number]) =>
        h.state ? `hub ${h.state.id} at ${h.url}: ${h.state.active ? 'active' : `standby (active: ${h.state.activeUrl ?? 'unknown'})`}, epoch ${h.state.epoch}` : `hub at ${h.url}: ${h.error}`;
      io.out(`${[self, ...hubs.filter((h) => h !== self)].filter((h) => h !== undefined).map(says).join('\n')}\n\n`);
      io.out(table(['MEMBER', 'ROLE', 'STATE', 'NODE STATE', 'HEARTBEAT', 'UP SINCE'], members.members.map((m) => [m.id, m.role, m.state === 'dead' && m.deathReason ? `dead (${m.deathReason})` : m.state, m.nodeState ?? '-', age(m.heartbeatAgeMs), m.upSince ?? '-'])));
      io.out(`\nplacement version ${placement.version}${placement.unplaced ? `, ${placement.unplaced} users unplaced` : ''}\n`);
      io.out(table(['NODE', 'STATE', 'USERS', 'DOMAINS'], placement.nodes.map((n) => [n.id, n.state, String(n.users), n.domains.join(',') || '-'])));
    }),
  );
}

export function registerDomain(program: Command, io: CliIo, setExit: (code: number) => void): void {
  const domain = program.command('domain').description('mail domains of the running cluster: add, list, remove');
  hubOptions(domain.command('add').argument('<name>', 'the domain name').description('add a domain (its users are split across the nodes)')).action((name: string, opts: HubOptions) =>
    runAdmin(io, setExit, 'domain add', async () => {
      const d = await adminCall(await resolveHub(opts), 'POST', '/v1/domains', Domain, { name });
      if (opts.json) return printJson(io, d);
      io.out(`added domain ${d.name}\n`);
    }),
  );
  hubOptions(domain.command('list').description('every domain with its user count')).action((opts: HubOptions) =>
    runAdmin(io, setExit, 'domain list', async () => {
      const hub = await resolveHub(opts);
      const all: z.output<typeof Domain>[] = [];
      let cursor: string | null = null;
      do {
        const page: z.output<typeof DomainPage> = await adminCall(hub, 'GET', `/v1/domains?limit=1000${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`, DomainPage);
        all.push(...page.domains);
        cursor = page.next;
      } while (cursor);
      if (opts.json) return printJson(io, all);
      io.out(table(['DOMAIN', 'USERS', 'PLACEMENT', 'ALIASES'], all.map((d) => [d.name, String(d.users), d.placement.mode === 'pinned' ? `pinned:${d.placement.nodes.join(',')}` : 'split', d.aliases.join(',') || '-'])));
    }),
  );
  hubOptions(domain.command('remove').argument('<name>', 'the domain name').description('remove a domain that has no users and aliases left')).action((name: string, opts: HubOptions) =>
    runAdmin(io, setExit, 'domain remove', async () => {
      await adminCall(await resolveHub(opts), 'DELETE', `/v1/domains/${encodeURIComponent(name)}`, Ok);
      if (opts.json) return printJson(io, { ok: true });
      io.out(`removed domain ${name}\n`);
    }),
  );
}

export function registerPlacement(program: Command, io: CliIo, setExit: (code: number) => void): void {
  const placement = program.command('placement').description('which node serves which mailbox: show, export, move, drain, undrain');
  hubOptions(placement.command('show').argument('[address]', 'one mailbox: the node that owns it').description('the nodes and their states, or the owner of one address')).action(
    (address: string | undefined, opts: HubOptions) =>
      runAdmin(io, setExit, 'placement show', async () => {
        const hub = await resolveHub(opts);
        if (address !== undefined) {
          const o = await adminCall(hub, 'GET', `/v1/placement/owner/${encodeURIComponent(address)}`, OwnerAnswer);
          if (opts.json) return printJson(io, o);
          const mailbox = o.mailbox === o.address ? '' : ` (mailbox ${o.mailbox})`;
          io.out(`${o.address}${mailbox}: ${o.node === null ? 'no node serves it now' : `node ${o.node}, epoch ${o.epoch}`} (placement version ${o.version})\n`);
          return;
        }
        const [view, summary] = await Promise.all([adminCall(hub, 'GET', '/v1/placement', PlacementView), adminCall(hub, 'GET', '/v1/placement/summary', PlacementSummary)]);
        if (opts.json) return printJson(io, { ...view, summary });
        const users = new Map(summary.nodes.map((n) => [n.id, n.users]));
        io.out(`placement version ${view.version}, ${view.overrides} moved mailboxes${view.pending ? `, a change in progress (waiting for ${view.pending.waitingFor.join(', ') || 'nobody'})` : ''}\n`);
        io.out(table(['NODE', 'STATE', 'USERS', 'ADDRESS'], view.nodes.map((n) => [n.id, n.state, String(users.get(n.id) ?? 0), n.advertise])));
      }),
  );
  hubOptions(
    placement
      .command('export')
      .description('mailboxes per node as JSON, for the stack config before removing nodes: pulumi config set mailfleet:placement "$(mailfleet placement export)"'),
  ).action((opts: HubOptions) =>
    runAdmin(io, setExit, 'placement export', async () => {
      const summary = await adminCall(await resolveHub(opts), 'GET', '/v1/placement/summary', PlacementSummary);
      // Parsed by the schema the stack reads (components/placement-facts.ts), so what is written is what `pulumi up` accepts.
      const facts = PlacementFacts.parse({
        format: PLACEMENT_FACTS_FORMAT,
        exportedAt: new Date().toISOString(),
        placementVersion: summary.version,
        nodes: summary.nodes.map((n) => ({ id: n.id, state: n.state, mailboxes: n.users })),
        unplaced: summary.unplaced,
      });
      io.out(`${JSON.stringify(facts)}\n`);
    }),
  );
  hubOptions(placement.command('move').argument('<address>', 'the mailbox').argument('<node>', 'the node to serve it').description('move one mailbox to a node (answers once committed)')).action(
    (address: string, node: string, opts: HubOptions) =>
      runAdmin(io, setExit, 'placement move', async () => {
        const r = await adminCall(await resolveHub(opts), 'POST', '/v1/placement/move', PlacementChangeAnswer, { address, node });
        if (opts.json) return printJson(io, r);
        io.out(`moved ${address} to ${node} (placement version ${r.version})\n`);
      }),
  );
  hubOptions(placement.command('drain').argument('<node>', 'the node').description("take a node off the ring: its mailboxes move to the others (answers once committed)")).action((node: string, opts: HubOptions) =>
    runAdmin(io, setExit, 'placement drain', async () => {
      const r = await adminCall(await resolveHub(opts), 'POST', '/v1/placement/drain', PlacementChangeAnswer, { node });
      if (opts.json) return printJson(io, r);
      io.out(`drained ${node} (placement version ${r.version})\n`);
    }),
  );
  hubOptions(placement.command('undrain').argument('<node>', 'the node').description('put a drained node back on the ring: it takes its share again')).action((node: string, opts: HubOptions) =>
    runAdmin(io, setExit, 'placement undrain', async () => {
      const r = await adminCall(await resolveHub(opts), 'POST', '/v1/placement/undrain', PlacementChangeAnswer, { node });
      if (opts.json) return printJson(io, r);
      io.out(`${node} is back on the ring (placement version ${r.version})\n`);
    }),
  );
}
