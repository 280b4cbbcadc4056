import { stringify } from 'yaml';

/**
 * Emitting cloud-config documents. Every document is built as a plain object
 * and serialised by the `yaml` package — never by concatenating strings — so a
 * value with a colon, a quote or a newline (a PEM key, a JSON config) can
 * never change the document's structure.
 */

/** One `write_files` entry (cloud-init module cc_write_files). */
export interface WriteFile {
  path: string;
  content: string;
  /** Octal string, e.g. '0600'. */
  permissions: string;
  /** `user:group`. */
  owner: string;
  /**
   * Write in the final stage, after users and packages exist. Needed for any
   * file owned by the `mailfleet` user (created by cc_users_groups, which runs
   * after the non-deferred write_files) or shipped into a package's config dir.
   */
  defer?: boolean;
}

/** The subset of cloud-config this project emits (cloud-init module docs name each key). */
export interface CloudConfig {
  hostname: string;
  fqdn?: string;
  preserve_hostname: false;
  manage_etc_hosts: boolean;
  timezone?: string;
  bootcmd?: (string | string[])[];
  groups?: string[];
  users?: (string | Record<string, unknown>)[];
  ssh_authorized_keys?: string[];
  package_update: boolean;
  package_upgrade: boolean;
  packages: string[];
  mounts?: string[][];
  mount_default_fields?: (string | null)[];
  write_files: WriteFile[];
  runcmd: (string | string[])[];
  final_message?: string;
  /** cloud-init's power_state module (cc_power_state_change): what to do once the first boot's modules are done. */
  power_state?: { mode: 'poweroff' | 'reboot' | 'halt'; message?: string; timeout?: number; condition?: boolean };
}

/** cloud-init recognises user data as cloud-config only with this first line. */
export const CLOUD_CONFIG_HEADER = '#cloud-config';

/** Serialises a cloud-config document with its mandatory header. */
export function toCloudConfigYaml(doc: CloudConfig): string {
  return `${CLOUD_CONFIG_HEADER}\n${emitYaml(doc)}`;
}

/**
 * YAML emission options shared by every document: no line folding (PEM and
 * JSON stay byte-exact), no anchors/aliases (cloud-init's schema validator
 * and humans read plain trees best).
 */
export function emitYaml(doc: unknown): string {
  return stringify(doc, { lineWidth: 0, aliasDuplicateObjects: false });
}

/**
 * Quotes a value for a POSIX shell (single quotes; an embedded quote becomes
 * '\''). Used for the generated bootstrap script, which is shell, not YAML.
 */
export function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}
