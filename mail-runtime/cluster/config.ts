import { readFileSync } from 'node:fs';
import { RuntimeConfigError, type RuntimeConfig } from '../config';

/** The hub URLs a member tries, in order: `hubUrls`, else `hubUrl` alone (config/schema.ts). */
export function hubUrlsOf(cfg: Pick<RuntimeConfig, 'hubUrl' | 'hubUrls'>): string[] {
  return cfg.hubUrls ?? (cfg.hubUrl ? [cfg.hubUrl] : []);
}

function readNamed(field: string, file: string): string {
  let text: string;
  try {
    text = readFileSync(file, 'utf8').trim();
  } catch (err) {
    throw new RuntimeConfigError('runtime config', [{ path: field, message: `${file} cannot be read: ${(err as NodeJS.ErrnoException).code ?? String(err)}` }]);
  }
  if (!text) throw new RuntimeConfigError('runtime config', [{ path: field, message: `${file} is empty` }]);
  return text;
}

/**
 * The cluster token alone, for what members authenticate to each other with
 * (a node relaying submitted mail to a gateway's relay listener); `why`
 * says what needs it in the error when the field is absent.
 */
export function readClusterToken(cfg: Pick<RuntimeConfig, 'clusterTokenFile'>, why: string): string {
  if (!cfg.clusterTokenFile) throw new RuntimeConfigError('runtime config', [{ path: 'clusterTokenFile', message: `is required ${why}` }]);
  return readNamed('clusterTokenFile', cfg.clusterTokenFile);
}

/** The cluster CA's PEM (`clusterTls.caFile`) members verify each other by, if configured. */
export function readClusterCa(cfg: Pick<RuntimeConfig, 'clusterTls'>): string | undefined {
  return cfg.clusterTls ? readNamed('clusterTls.caFile', cfg.clusterTls.caFile) : undefined;
}

/** The cluster token and the cluster CA a member needs to reach the hub; errors name the field. */
export function readClusterSecrets(cfg: Pick<RuntimeConfig, 'clusterTokenFile' | 'clusterTls' | 'hubUrl' | 'hubUrls'>): { token: string; caPem?: string } {
  if (!cfg.clusterTokenFile) throw new RuntimeConfigError('runtime config', [{ path: 'clusterTokenFile', message: 'is required with hubUrl/hubUrls (members authenticate to the hub with it)' }]);
  const token = readNamed('clusterTokenFile', cfg.clusterTokenFile);
  const caPem = readClusterCa(cfg);
  return { token, ...(caPem ? { caPem } : {}) };
}
