import { createHmac, timingSafeEqual } from 'node:crypto';
import { readFile } from 'node:fs/promises';

/**
 * Sender Rewriting Scheme, in the common SRS0/SRS1 form (libsrs2, postsrsd,
 * Mail::SRS): a forwarded message leaves with an envelope sender in our
 * domain, so the next hop's SPF check sees our servers authorised, and a
 * bounce to that address finds its way back to the original sender.
 *
 *   SRS0=HHHH=TT=orig-domain=orig-local@srs-domain
 *   SRS1=HHHH=first-forwarder==HHHH=TT=orig-domain=orig-local@srs-domain
 *
 * HHHH: the first 4 characters of base64(HMAC-SHA1(secret, lowercased
 * fields)); TT: days since the epoch mod 1024 in base32. SRS1 is for an
 * address another forwarder already rewrote: we keep their SRS0 and name
 * them, so the bounce returns through them and the address does not grow
 * with every hop.
 */

const HASH_LENGTH = 4;
const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
/** TT counts days modulo 1024 (two base32 characters); ages wrap around. */
const TIMESTAMP_PERIOD = 1024;
const DAY_MS = 86_400_000;
/** Fields are separated by "="; right after SRS0/SRS1 libsrs2 also writes "+" or "-". */
const SRS0 = /^SRS0[=+-]([^=]+)=([^=]{2})=([^=]+)=(.+)$/i;
const SRS1 = /^SRS1[=+-]([^=]+)=([^=]+)=[=+-](.+)$/i;

export class SrsError extends Error {}

export interface SrsOptions {
  domain: string;
  /** The first secret signs; every one verifies (so a secret can be rotated). */
  secrets: readonly string[];
  maxAgeDays: number;
  now?: () => Date;
}

export class Srs {
  private readonly now: () => Date;
  readonly domain: string;

  constructor(private readonly opts: SrsOptions) {
    if (!opts.secrets.length || opts.secrets.some((s) => s.length < 16)) throw new SrsError('SRS needs at least one secret of 16 or more characters');
    this.now = opts.now ?? (() => new Date());
    this.domain = opts.domain.toLowerCase();
  }

  /** `outbound.srs`: the secret file holds one secret per line. */
  static async fromConfig(cfg: { domain: string; secretFile: string; maxAgeDays: number }): Promise<Srs> {
    let text: string;
    try {
      text = await readFile(cfg.secretFile, 'utf8');
    } catch (err) {
      throw new SrsError(`SRS secret file ${cfg.secretFile} cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'}; outbound.srs.secretFile)`);
    }
    const secrets = text.split(/\r?\n/).map((l) => l.trim()).filter(Boolean);
    try {
      return new Srs({ domain: cfg.domain, secrets, maxAgeDays: cfg.maxAgeDays });
    } catch (err) {
      throw new SrsError(`${(err as Error).message} (outbound.srs.secretFile ${cfg.secretFile})`);
    }
  }

  /** Whether an address is one of ours to reverse (a bounce coming back). */
  isOurs(address: string): boolean {
    const { local, domain } = split(address);
    return domain === this.domain && /^SRS[01][=+-]/i.test(local);
  }

  /** The envelope sender for forwarding `sender` (the null sender and our own domain's addresses stay as they are). */
  forward(sender: string): string {
    if (sender === '') return '';
    const { local, domain } = split(sender);
    if (!domain) throw new SrsError(`not an address: ${JSON.stringify(sender)}`);
    if (domain === this.domain) return sender;
    const srs1 = SRS1.exec(local);
    if (srs1) {
      // Already SRS1: keep the first forwarder and its SRS0 part, sign anew.
      const [, , host, rest] = srs1;
      return `SRS1=${this.hash(host!, rest!)}=${host}==${rest}@${this.domain}`;
    }
    const srs0 = /^SRS0([=+-].*)$/i.exec(local);
    if (srs0) {
      const rest = srs0[1]!.slice(1);
      return `SRS1=${this.hash(domain, rest)}=${domain}==${rest}@${this.domain}`;
    }
    const tt = this.timestamp();
    return `SRS0=${this.hash(tt, domain, local)}=${tt}=${domain}=${local}@${this.domain}`;
  }

  /**
   * The address a bounce to `address` goes to: the original sender for
   * SRS0, the first forwarder's SRS0 address for SRS1. Throws SrsError for
   * a forged hash, an expired timestamp or an address that is not SRS.
   */
  reverse(address: string): string {
    const { local, domain } = split(address);
    if (domain !== this.domain) throw new SrsError(`${address} is not in the SRS domain ${this.domain}`);
    const srs1 = SRS1.exec(local);
    if (srs1) {
      const [, hash, host, rest] = srs1;
      this.check(hash!, [host!, rest!]);
      return `SRS0=${rest}@${host}`;
    }
    const srs0 = SRS0.exec(local);
    if (!srs0) throw new SrsError(`${address} is not an SRS address`);
    const [, hash, tt, origDomain, origLocal] = srs0;
    this.check(hash!, [tt!, origDomain!, origLocal!]);
    const age = this.ageDays(tt!);
    if (age === undefined) throw new SrsError(`${address} has a malformed timestamp`);
    if (age > this.opts.maxAgeDays) throw new SrsError(`${address} expired (${age} days old, valid ${this.opts.maxAgeDays})`);
    return `${origLocal}@${origDomain}`;
  }

  private hash(...fields: string[]): string {
    return this.hashWith(this.opts.secrets[0]!, fields);
  }

  private hashWith(secret: string, fields: readonly string[]): string {
    const h = createHmac('sha1', secret);
    for (const f of fields) h.update(f.toLowerCase());
    return h.digest('base64').slice(0, HASH_LENGTH);
  }

  /** Case-insensitive, as libsrs2 does: some MTAs lowercase local parts on the way back. */
  private check(hash: string, fields: readonly string[]): void {
    const got = Buffer.from(hash.toLowerCase());
    const ok = this.opts.secrets.some((s) => {
      const want = Buffer.from(this.hashWith(s, fields).toLowerCase());
      return want.length === got.length && timingSafeEqual(want, got);
    });
    if (!ok) throw new SrsError('SRS hash does not verify (forged or rewritten by another forwarder)');
  }

  private timestamp(): string {
    const day = Math.floor(this.now().getTime() / DAY_MS) % TIMESTAMP_PERIOD;
    return BASE32[day >> 5]! + BASE32[day & 31]!;
  }

  private ageDays(tt: string): number | undefined {
    const hi = BASE32.indexOf(tt[0]!.toUpperCase());
    const lo = BASE32.indexOf(tt[1]!.toUpperCase());
    if (hi < 0 || lo < 0) return undefined;
    const then = (hi << 5) | lo;
    const today = Math.floor(this.now().getTime() / DAY_MS) % TIMESTAMP_PERIOD;
    return (today - then + TIMESTAMP_PERIOD) % TIMESTAMP_PERIOD;
  }
}

function split(address: string): { local: string; domain: string } {
  const at = address.lastIndexOf('@');
  return at > 0 ? { local: address.slice(0, at), domain: address.slice(at + 1).toLowerCase() } : { local: address, domain: '' };
}
