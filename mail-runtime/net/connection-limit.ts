import { BlockList, isIP } from 'node:net';
import { addressKey } from './address';

/** Why a connection was refused at accept: all slots taken, or all of its address's. */
export type RefusalReason = 'total' | 'address';

/**
 * How long and how many, beyond the total: the member's config `limits`
 * (mail-runtime/config/schema.ts decides every default; node/ passes them
 * in). An absent field is no bound, for embedding and tests.
 */
export interface ConnectionPolicy {
  /** Connections from one address (IPv6: one /64) at once (`limits.maxConnectionsPerAddress`). */
  maxPerAddress?: number;
  /** Networks (CIDR) not counted per address (`limits.perAddressExempt`). */
  perAddressExempt?: readonly string[];
  /**
   * A connection must have logged in this long after it was accepted
   * (`limits.loginTimeoutSeconds`); nothing the client sends extends it.
   * Listeners whose sessions never log in (inbound SMTP) do not set it.
   */
  loginTimeoutMs?: number;
  /** Implicit TLS: the handshake must be done this long after accept (`limits.tlsHandshakeSeconds`). */
  tlsHandshakeMs?: number;
}

/** A slot held by one accepted connection; `release()` once, when it has closed (more calls do nothing). */
export interface Admission {
  release(): void;
}

/**
 * The member's connection limits, shared by all its client listeners so
 * that they hold for the process whichever port clients use: how many
 * connections in total (`limits.maxConnections`) and per client address,
 * and (read by serveSessions) how long a connection may stay unauthenticated
 * and how long an implicit-TLS handshake may take. Every listener — IMAP,
 * POP3, submission, the gateway's MX and the proxy's fronts — passes the
 * same object to serveSessions() (net/limits-from-config.ts builds it from config).
 */
export class ConnectionLimit {
  private open = 0;
  private readonly perAddress = new Map<string, number>();
  private readonly exempt = new BlockList();

  /**
   * @param onRefused called for each connection refused (metrics, logs)
   */
  private limit: number;

  constructor(
    max: number,
    readonly policy: ConnectionPolicy = {},
    private readonly onRefused: (reason: RefusalReason, ip: string) => void = () => undefined,
  ) {
    this.limit = ConnectionLimit.checkMax(max);
    const perAddr = policy.maxPerAddress;
    if (perAddr !== undefined && (!Number.isSafeInteger(perAddr) || perAddr < 1)) {
      throw new RangeError(`maxConnectionsPerAddress must be a positive integer, got ${perAddr}`);
    }
    for (const cidr of policy.perAddressExempt ?? []) {
      const [net, bits] = cidr.split('/') as [string, string | undefined];
      const family = isIP(net);
      if (!family || bits === undefined) throw new RangeError(`perAddressExempt: ${cidr} is not a network in CIDR notation`);
      this.exempt.addSubnet(net, Number(bits), family === 4 ? 'ipv4' : 'ipv6');
    }
  }

  private static checkMax(max: number): number {
    if (!Number.isSafeInteger(max) || max < 1) throw new RangeError(`maxConnections must be a positive integer, got ${max}`);
    return max;
  }

  /** The total bound (`limits.maxConnections`). */
  get max(): number {
    return this.limit;
  }

  /** A new total bound applied live (cluster settings): connections already open above it stay, new ones wait for room. */
  set max(max: number) {
    this.limit = ConnectionLimit.checkMax(max);
  }

  /** Open connections counted against the limit. */
  get inUse(): number {
    return this.open;
  }

  /** Open connections counted for `ip`'s address (0 for an exempt one). */
  fromAddress(ip: string): number {
    return this.perAddress.get(addressKey(ip)) ?? 0;
  }

  private isExempt(ip: string): boolean {
    const family = isIP(ip);
    return family !== 0 && this.exempt.check(ip, family === 4 ? 'ipv4' : 'ipv6');
  }

  /** Takes a slot for a connection from `ip`, or says why not. */
  admit(ip: string): Admission | { refused: RefusalReason } {
    if (this.open >= this.limit) return this.refuse('total', ip);
    const max = this.policy.maxPerAddress;
    const key = max !== undefined && !this.isExempt(ip) ? addressKey(ip) : undefined;
    if (key !== undefined) {
      const n = this.perAddress.get(key) ?? 0;
      if (n >= (max as number)) return this.refuse('address', ip);
      this.perAddress.set(key, n + 1);
    }
    this.open++;
    let released = false;
    return {
      release: () => {
        if (released) return;
        released = true;
        this.open--;
        if (key === undefined) return;
        const n = (this.perAddress.get(key) ?? 1) - 1;
        if (n > 0) this.perAddress.set(key, n);
        else this.perAddress.delete(key);
      },
    };
  }

  private refuse(reason: RefusalReason, ip: string): { refused: RefusalReason } {
    this.onRefused(reason, ip);
    return { refused: reason };
  }
}
