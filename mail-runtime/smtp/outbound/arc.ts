import { readFile } from 'node:fs/promises';
import type { ARCData, ARCSealOptions, DNSResolver } from 'mailauth';
import { arc, sealMessage } from 'mailauth/lib/arc';
import { dkimVerify } from 'mailauth/lib/dkim/verify';
import { readHeaders } from './headers';

/**
 * ARC sealing of forwarded mail (RFC 8617): the next hop cannot trust SPF
 * or a DKIM signature our forwarding may have broken, but it can trust what
 * we saw when the message reached us, sealed under our domain. The chain is
 * validated first (§5.2, the sealer's duty); a chain that already fails is
 * not extended — the seal would only say so — mailauth's `authenticate`
 * makes the same choice.
 */

export class ArcKeyError extends Error {}

export type ChainStatus = 'none' | 'pass' | 'fail';

export class ArcSealer {
  private constructor(
    private readonly key: { domain: string; selector: string; privateKey: string },
    private readonly authservId: string,
    private readonly resolver: DNSResolver,
  ) {}

  /** `outbound.arc`; the key file is read now, so a broken secret stops the gateway at start. */
  static async load(cfg: { domain: string; selector: string; keyFile: string }, authservId: string, resolver: DNSResolver): Promise<ArcSealer> {
    let privateKey: string;
    try {
      privateKey = await readFile(cfg.keyFile, 'utf8');
    } catch (err) {
      throw new ArcKeyError(`ARC key file ${cfg.keyFile} cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'}; outbound.arc.keyFile)`);
    }
    return new ArcSealer({ domain: cfg.domain, selector: cfg.selector, privateKey }, authservId, resolver);
  }

  /** The message with an ARC set prepended, or unchanged when the existing chain fails. Returns the chain status it found. */
  async seal(message: Buffer): Promise<{ message: Buffer; cv: ChainStatus }> {
    const verified = await dkimVerify(message, { resolver: this.resolver });
    const chain = (verified as unknown as { arc?: ARCData }).arc;
    const result = chain ? await arc(chain, { resolver: this.resolver }) : undefined;
    const status = result?.status.result;
    const cv: ChainStatus = status === 'pass' ? 'pass' : status === 'none' || status === undefined ? 'none' : 'fail';
    if (cv === 'fail') return { message, cv };
    const seal: ARCSealOptions & { cv: ChainStatus; authResults: string } = {
      signingDomain: this.key.domain,
      selector: this.key.selector,
      privateKey: this.key.privateKey,
      cv,
      authResults: this.authResults(message, cv),
    };
    const headers = await sealMessage(message, seal);
    return { message: Buffer.concat([headers, message]), cv };
  }

  /**
   * What ARC-Authentication-Results records: our own Authentication-Results
   * from when the message arrived (the first one with our authserv-id,
   * RFC 8601 §5: the inbound side removes forged ones), else just the chain
   * status we found.
   */
  private authResults(message: Buffer, cv: ChainStatus): string {
    const ours = readHeaders(message).find((h) => h.name === 'authentication-results' && h.value.split(';')[0]?.trim().toLowerCase() === this.authservId.toLowerCase());
    return ours?.value ?? `${this.authservId}; arc=${cv}`;
  }
}
