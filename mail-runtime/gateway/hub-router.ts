import { promises as fs } from 'node:fs';
import { dirname } from 'node:path';
import { z } from 'zod';
import { normalizeAddress } from '../auth';
import type { HubClient, PlacementCache } from '../cluster';
import { writeFileAtomic } from '../common/atomic-file';
import type { Logger } from '../common/log';
import { Recipient, RecipientAnswer } from '../hub/protocol';
import { DirectoryUnavailableError, NoPlacementError, type Route, type Router } from '../smtp/routing';

/**
 * How long a recipient answer from the hub is used without asking again.
 * Short: a user added or removed on the hub is seen at the gateway within
 * this long (an unknown address answered 550 by mistake would bounce mail).
 */
const RECIPIENT_TTL_MS = 30_000;
/**
 * While no hub answers, an answer this old is still used (DESIGN.md: the
 * hub is not on the data path); older, the recipient gets 451 and the
 * sender retries.
 */
const RECIPIENT_STALE_MS = 24 * 3600_000;
/** Recipients remembered at once (each a few hundred bytes); the oldest go first. */
const RECIPIENT_CACHE_MAX = 100_000;
/**
 * New answers are written to the cache file at most this often (the whole
 * file is rewritten atomically; a burst of new recipients costs one write).
 */
const RECIPIENT_SAVE_INTERVAL_MS = 1000;
/** Format version of the recipient cache file; a file of another version is ignored (the hub refills it). */
const RECIPIENT_CACHE_VERSION = 1;
const RecipientCacheFile = z.strictObject({
  version: z.literal(RECIPIENT_CACHE_VERSION),
  recipients: z.array(z.strictObject({ address: z.string().min(1), recipient: Recipient, at: z.number().int().nonnegative() })).max(RECIPIENT_CACHE_MAX),
});

/** One recipient lookup at the hub gives up after this long (the session's RCPT waits for it). */
const LOOKUP_TIMEOUT_MS = 5000;
/** Alias chains longer than this are a loop in the directory, not a route. */
const MAX_ALIAS_DEPTH = 8;
/** Addresses one recipient may expand to (the admin API allows 100 forwarding targets per user). */
const MAX_EXPANSION = 100;

export interface HubRouterOptions {
  client: HubClient;
  /** The hub's placement, kept current by the member's HubLink. */
  placement: PlacementCache;
  log: Logger;
  /**
   * Where the recipient answers are kept across restarts (the gateway's
   * storage): a gateway restarted while no hub answers still knows the
   * recipients it was told about. Absent: memory only.
   */
  cacheFile?: string;
}

/**
 * The gateway's router in a cluster (issue 12): what an address is comes
 * from the hub's directory (`GET /v1/cluster/recipients/{address}`: mailbox,
 * alias, unknown, not hosted — no password hashes), which node owns the
 * mailbox from the placement every member follows, looked up again at each
 * delivery attempt so mail for a moved or failed-over mailbox goes to its
 * new owner on the retry. A mailbox without a live owner is NoPlacementError
 * (451: the sender, or our queue, retries).
 */
export class HubRouter implements Router {
  private readonly known = new Map<string, { recipient: Recipient; at: number }>();

  private saveTimer: NodeJS.Timeout | undefined;
  private saving: Promise<void> = Promise.resolve();

  constructor(private readonly o: HubRouterOptions) {}

  /** Loads the saved answers, if any; a damaged file or another version is reported and ignored. */
  async load(): Promise<number> {
    const file = this.o.cacheFile;
    if (!file) return 0;
    let text: string;
    try {
      text = await fs.readFile(file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 0;
      throw err;
    }
    let parsed;
    try {
      parsed = RecipientCacheFile.safeParse(JSON.parse(text));
    } catch {
      parsed = undefined;
    }
    if (!parsed?.success) {
      this.o.log.warn({ file, issues: parsed?.error.issues.slice(0, 3) }, 'recipient cache unreadable or of another version; ignored');
      return 0;
    }
    for (const r of parsed.data.recipients) if (!this.known.has(r.address)) this.known.set(r.address, { recipient: r.recipient, at: r.at });
    this.o.log.info({ recipients: parsed.data.recipients.length }, 'recipients loaded from the local cache');
    return parsed.data.recipients.length;
  }

  /** Writes pending answers now (at stop). */
  async flush(): Promise<void> {
    if (this.saveTimer) {
      clearTimeout(this.saveTimer);
      this.saveTimer = undefined;
      this.save();
    }
    await this.saving;
  }

  private scheduleSave(): void {
    if (!this.o.cacheFile || this.saveTimer) return;
    this.saveTimer = setTimeout(() => {
      this.saveTimer = undefined;
      this.save();
    }, RECIPIENT_SAVE_INTERVAL_MS);
    this.saveTimer.unref();
  }

  private save(): void {
    const file = this.o.cacheFile!;
    const text = JSON.stringify({ version: RECIPIENT_CACHE_VERSION, recipients: [...this.known].map(([address, k]) => ({ address, recipient: k.recipient, at: k.at })) });
    this.saving = this.saving
      .then(async () => {
        await fs.mkdir(dirname(file), { recursive: true });
        await writeFileAtomic(file, text, { durable: true });
      })
      .catch((err: unknown) => this.o.log.error({ err, file }, 'recipient cache write failed'));
  }

  async route(address: string): Promise<Route> {
    let addr = normalizeAddress(address);
    for (let depth = 0; depth < MAX_ALIAS_DEPTH; depth++) {
      const r = await this.recipient(addr);
      switch (r.kind) {
        case 'not-hosted':
          return { kind: 'remote', address: addr, domain: addr.slice(addr.lastIndexOf('@') + 1) };
        case 'unknown':
          return { kind: 'unknown-user', address: addr };
        case 'mailbox': {
          const to = this.o.placement.route(r.address, 'lmtp');
          if ('error' in to) throw new NoPlacementError(r.address);
          return { kind: 'local', address: r.address, node: { memberId: to.node, host: to.host, port: to.port } };
        }
        case 'alias':
          // One mailbox behind the alias routes as that mailbox; several are expanded first (expand()).
          addr = r.targets[0]!;
          break;
      }
    }
    throw new Error(`${address}: alias chain longer than ${MAX_ALIAS_DEPTH}`);
  }

  /**
   * Where mail for `address` goes (RFC 5321 §3.9: aliases and forwarding
   * expand before routing): every target of an alias, each expanded in
   * turn; a mailbox's forwarding addresses, plus the mailbox itself when it
   * keeps a copy; anything else is itself. Depth and fan-out are bounded
   * and each address counts once, so a loop in the directory ends.
   */
  async expand(address: string): Promise<readonly string[]> {
    const out: string[] = [];
    const seen = new Set<string>();
    const walk = async (addr: string, depth: number): Promise<void> => {
      if (seen.has(addr)) return;
      seen.add(addr);
      if (depth >= MAX_ALIAS_DEPTH) throw new Error(`${address}: alias chain longer than ${MAX_ALIAS_DEPTH}`);
      const r = await this.recipient(addr);
      const next = r.kind === 'alias' ? r.targets : r.kind === 'mailbox' && r.forwardTo.length ? r.forwardTo : undefined;
      if (!next) {
        out.push(addr);
      } else {
        if (r.kind === 'mailbox' && r.keepCopy) out.push(addr);
        for (const t of next) await walk(normalizeAddress(t), depth + 1);
      }
      if (out.length > MAX_EXPANSION) throw new Error(`${address}: expands to more than ${MAX_EXPANSION} addresses`);
    };
    await walk(normalizeAddress(address), 0);
    return out;
  }

  private async recipient(addr: string): Promise<Recipient> {
    const now = Date.now();
    const had = this.known.get(addr);
    if (had && now - had.at < RECIPIENT_TTL_MS) return had.recipient;
    try {
      const a = await this.o.client.call('GET', `/v1/cluster/recipients/${encodeURIComponent(addr)}`, undefined, RecipientAnswer, LOOKUP_TIMEOUT_MS);
      this.known.delete(addr);
      this.known.set(addr, { recipient: a.recipient, at: now });
      if (this.known.size > RECIPIENT_CACHE_MAX) this.known.delete(this.known.keys().next().value!);
      // Every fresh answer, so `at` on disk stays current for RECIPIENT_STALE_MS after a restart (writes coalesce, see RECIPIENT_SAVE_INTERVAL_MS).
      this.scheduleSave();
      return a.recipient;
    } catch (err) {
      if (had && now - had.at < RECIPIENT_STALE_MS) {
        this.o.log.warn({ err, rcpt: addr }, 'hub unreachable: using the recipient as last known');
        return had.recipient;
      }
      throw new DirectoryUnavailableError(addr, { cause: err });
    }
  }
}
