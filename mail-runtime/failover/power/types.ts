/**
 * What the failover controller needs of a platform: the member's power
 * state, and a confirmed power-off (the fence) and power-on. Every platform
 * adapter in this folder implements it over that platform's own API.
 */
export type PowerState = 'running' | 'stopped' | 'transitioning';

export interface PowerAdapter {
  /** Names the target in logs and errors, e.g. `proxmox pve1/qemu/101`. */
  readonly target: string;
  state(): Promise<PowerState>;
  /**
   * Stop the member and wait until the platform reports it stopped; resolves
   * only then (a fence is a fence once confirmed). Stopping a stopped member
   * succeeds.
   */
  powerOff(): Promise<void>;
  /** Start the member and wait until the platform reports it running; starting a running one succeeds. */
  powerOn(): Promise<void>;
  /** Release what the adapter holds (a vSphere session). */
  close(): Promise<void>;
}

/** How often a confirmation polls the platform (bounded by confirmTimeoutMs). */
export const CONFIRM_POLL_MS = 250;
