import type { RuntimeConfig, RuntimeRole } from '../../mail-runtime/config';
import { GUEST_PATHS } from '../render';
import { shellQuote, toCloudConfigYaml, type CloudConfig, type WriteFile } from './document';
import { runtimeInstallLines } from './runtime-install';
import { secretFilesFor, type SecretMaterial } from './secret-files';
import { renderSystemdUnit, unitName } from './systemd';

/**
 * cloud-config for a mail member VM (hub, node, gateway, proxy or a failover
 * site's all-roles member). Pure: plain strings in, YAML text out. The call
 * site wraps it in `pulumi.all(...).apply(...)` and marks the result secret
 * (see ./output.ts), because the document carries secret files.
 *
 * Boot order (cloud-init stages, Debian's cloud.cfg):
 * - init: bootcmd creates the `mailfleet` group with a fixed gid, cc_mounts
 *   writes the NFS fstab entry, cc_users_groups creates the `mailfleet` user
 *   with a fixed uid — fixed ids because every VM shares the NFS export and
 *   file ownership there is by number;
 * - final: packages (nfs-common, curl, gpg), deferred write_files (config,
 *   secrets, unit, bootstrap script: after the user exists so `owner` works),
 *   then runcmd runs the bootstrap script: mount the share, install Node.js,
 *   download the runtime, check it against `runtime.sha256` and install it
 *   (./runtime-install.ts), enable and start the unit.
 *
 * Node.js comes from the NodeSource apt repository for `nodeMajor`: Debian 12
 * ships Node.js 18, below the runtime's floor (20), and NodeSource publishes
 * one repository per major, so the VM gets security updates for exactly the
 * major the spec pins through ordinary `apt upgrade`.
 */

/** Fixed uid/gid of the `mailfleet` account on every VM (NFS ownership is numeric). Outside Debian's dynamic system range 100–999. */
export const MAILFLEET_UID = 2525;
export const MAILFLEET_USER = 'mailfleet';
/** Where the runtime package is unpacked. */
export const INSTALL_DIR = '/opt/mailfleet';
/** The generated bootstrap script (run once by runcmd). */
export const BOOTSTRAP_PATH = '/usr/local/sbin/mailfleet-bootstrap';

/** NFS share every member mounts at GUEST_PATHS.storage. */
export interface NfsMount {
  server: string;
  /** Export path, starting with '/'. */
  path: string;
  /**
   * Mount options from the spec. A bare `nfs4`/`nfs` token (the spec's default
   * starts with `nfs4`) names the filesystem type and is moved to fstab's type
   * column; `_netdev` is always added so boot waits for the network.
   */
  options: string;
}

export interface MemberUserDataArgs {
  member: { memberId: string; role: RuntimeRole; config: RuntimeConfig };
  storage: NfsMount;
  /**
   * The runtime tarball and its SHA-256 (`undefined` installs it unverified,
   * with a warning: required rather than optional so no caller forgets it).
   */
  runtime: { packageUrl: string; sha256: string | undefined; nodeMajor: number };
  /** Plain secret values; every file the config references must be present. */
  secrets: SecretMaterial;
  /** Domain for the guest's FQDN (`<memberId>.<domain>`). */
  domain?: string;
  /** Keys for the template's default user (break-glass access). */
  sshAuthorizedKeys?: readonly string[];
  /** systemd RestartSec for the member unit. Default 5 s: quick recovery without a restart storm. */
  restartSec?: number;
  /** Platform guest packages (qemu-guest-agent on Proxmox, open-vm-tools on vSphere). */
  extraPackages?: readonly string[];
  /** More files (a failover controller's power credentials); secret ones are mode 0600 owned by the member user. */
  extraFiles?: readonly WriteFile[];
  /**
   * Start the member's unit at the end of the first boot (default true).
   * False: installed and enabled, so it starts on the next boot only (a
   * failover standby that the controller powers on).
   */
  startNow?: boolean;
  /**
   * Power the guest off once the first boot is done (cloud-init
   * power_state, which runs once per instance): how a vSphere standby,
   * which the provider always powers on at creation, ends up stopped.
   */
  powerOffAfterFirstBoot?: boolean;
}

/** Path of the member's RuntimeConfig JSON in the guest. */
export function memberConfigPath(memberId: string): string {
  return `${GUEST_PATHS.configDir}/${memberId}.json`;
}

/** Splits spec mount options into fstab type + options (see NfsMount.options). */
export function nfsFstabEntry(mount: NfsMount): string[] {
  const opts = mount.options.split(',').map((o) => o.trim()).filter(Boolean);
  const typeToken = opts.find((o) => o === 'nfs4' || o === 'nfs');
  const rest = opts.filter((o) => o !== 'nfs4' && o !== 'nfs');
  if (!rest.includes('_netdev')) rest.push('_netdev');
  return [`${mount.server}:${mount.path}`, GUEST_PATHS.storage, typeToken ?? 'nfs', rest.join(','), '0', '0'];
}

/** Renders the member's `#cloud-config` user data. Throws if a secret the config references is missing. */
export function renderMemberUserData(args: MemberUserDataArgs): string {
  const { member, storage, runtime, secrets } = args;
  if (member.config.memberId !== member.memberId) {
    throw new Error(`member ${member.memberId}: its RuntimeConfig says memberId ${member.config.memberId}`);
  }
  const owner = `${MAILFLEET_USER}:${MAILFLEET_USER}`;
  const configFile = memberConfigPath(member.memberId);
  const unit = unitName(member.role);

  const secretFiles: WriteFile[] = secretFilesFor(member.config).map((ref) => {
    const content = secrets[ref.name];
    if (content === undefined || content === '') {
      throw new Error(`member ${member.memberId}: its config reads ${ref.path} but no ${ref.name} was given`);
    }
    return { path: ref.path, content, permissions: '0600', owner, defer: true };
  });

  const files: WriteFile[] = [
    // The config holds only paths to secrets, so group-readable is fine; root owns it so the process cannot rewrite it.
    { path: configFile, content: `${JSON.stringify(member.config, null, 2)}\n`, permissions: '0640', owner: `root:${MAILFLEET_USER}`, defer: true },
    ...secretFiles,
    ...(args.extraFiles ?? []),
    {
      path: `/etc/systemd/system/${unit}`,
      content: renderSystemdUnit({ memberId: member.memberId, role: member.role, configFile, installDir: INSTALL_DIR, user: MAILFLEET_USER, restartSec: args.restartSec }),
      permissions: '0644',
      owner: 'root:root',
      defer: true,
    },
    {
      path: BOOTSTRAP_PATH,
      content: renderBootstrapScript({ unit, runtime, secretDirs: secretDirsOf([...secretFiles, ...(args.extraFiles ?? [])]), startNow: args.startNow ?? true }),
      permissions: '0750',
      owner: 'root:root',
      defer: true,
    },
  ];

  const doc: CloudConfig = {
    hostname: member.memberId,
    ...(args.domain ? { fqdn: `${member.memberId}.${args.domain}` } : {}),
    preserve_hostname: false,
    manage_etc_hosts: true,
    bootcmd: [['sh', '-c', `getent group ${MAILFLEET_USER} >/dev/null || groupadd --system --gid ${MAILFLEET_UID} ${MAILFLEET_USER}`]],
    users: [
      'default',
      {
        name: MAILFLEET_USER,
        uid: MAILFLEET_UID,
        primary_group: MAILFLEET_USER,
        no_user_group: true,
        system: true,
        no_create_home: true,
        homedir: '/nonexistent',
        shell: '/usr/sbin/nologin',
        lock_passwd: true,
      },
    ],
    ...(args.sshAuthorizedKeys?.length ? { ssh_authorized_keys: [...args.sshAuthorizedKeys] } : {}),
    package_update: true,
    package_upgrade: false,
    packages: [...new Set(['nfs-common', 'curl', 'ca-certificates', 'gnupg', ...(args.extraPackages ?? [])])],
    mounts: [nfsFstabEntry(storage)],
    write_files: files,
    runcmd: [[BOOTSTRAP_PATH]],
    final_message: `mailfleet ${member.memberId} bootstrapped after $UPTIME s`,
    ...(args.powerOffAfterFirstBoot ? { power_state: { mode: 'poweroff' as const, message: 'mailfleet standby: installed, powering off until promoted', timeout: 30, condition: true } } : {}),
  };
  return toCloudConfigYaml(doc);
}

function secretDirsOf(files: readonly WriteFile[]): string[] {
  return [...new Set(files.map((f) => f.path.slice(0, f.path.lastIndexOf('/'))))].sort();
}

/**
 * The one-shot bootstrap (shell, run by runcmd as root). `set -eu` so a failed
 * step stops the boot loudly (cloud-init reports the error) instead of
 * starting a half-installed member.
 */
function renderBootstrapScript(a: { unit: string; runtime: MemberUserDataArgs['runtime']; secretDirs: string[]; startNow: boolean }): string {
  const q = shellQuote;
  const storage = GUEST_PATHS.storage;
  const lines = [
    '#!/bin/sh',
    '# Generated by mailfleet (components/cloud-init). Runs once, from cloud-init runcmd.',
    'set -eu',
    '',
    '# 1. Shared storage: cc_mounts wrote the fstab entry before nfs-common was installed.',
    `mkdir -p ${q(storage)}`,
    `mountpoint -q ${q(storage)} || mount ${q(storage)}`,
    `# Fails harmlessly on a root-squashed export; export it owned by ${MAILFLEET_UID}:${MAILFLEET_UID}.`,
    `chown ${MAILFLEET_USER}:${MAILFLEET_USER} ${q(storage)} || true`,
    '',
    `# 2. Node.js ${a.runtime.nodeMajor} from NodeSource (Debian 12 ships 18, below the runtime's floor).`,
    'install -d -m 0755 /etc/apt/keyrings',
    'curl -fsSL https://deb.nodesource.com/gpgkey/nodesource-repo.gpg.key | gpg --dearmor --yes -o /etc/apt/keyrings/nodesource.gpg',
    `echo ${q(`deb [signed-by=/etc/apt/keyrings/nodesource.gpg] https://deb.nodesource.com/node_${a.runtime.nodeMajor}.x nodistro main`)} > /etc/apt/sources.list.d/nodesource.list`,
    'apt-get update',
    'DEBIAN_FRONTEND=noninteractive apt-get install -y nodejs',
    '',
    `# 3. The runtime package (npm pack layout: package/...) into the install dir, ${a.runtime.sha256 ? 'only if its SHA-256 is runtime.sha256' : 'unverified: runtime.sha256 is not set'}.`,
    ...runtimeInstallLines({ packageUrl: a.runtime.packageUrl, sha256: a.runtime.sha256, installDir: INSTALL_DIR }),
    '',
    '# 4. Config and secrets readable by the service only.',
    `chown root:${MAILFLEET_USER} ${q(GUEST_PATHS.configDir)}`,
    `chmod 0750 ${q(GUEST_PATHS.configDir)}`,
    ...a.secretDirs.flatMap((d) => [`chown ${MAILFLEET_USER}:${MAILFLEET_USER} ${q(d)}`, `chmod 0700 ${q(d)}`]),
    '',
    '# 5. The member.',
    'systemctl daemon-reload',
    a.startNow ? `systemctl enable --now ${q(a.unit)}` : `systemctl enable ${q(a.unit)}`,
    '',
  ];
  return lines.join('\n');
}
