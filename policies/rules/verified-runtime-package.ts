import type { StackValidationPolicy } from '@pulumi/policy';
import type { Platform, Runtime } from '../lib/spec';
import { configOf } from '../lib/config';
import { DEFAULT_STRICT_ENVIRONMENTS, clustersOf, label, pairsOf, reportUnreadable, type TopologyView } from '../lib/topology';

/**
 * 13. The runtime package is verified. VM platforms (Proxmox, vSphere)
 * install the tarball at runtime.packageUrl when a VM boots — any VM, any
 * time HA or scaling creates one. A pinned version in the URL says which
 * release was meant, not what the server hands out: with runtime.sha256 set,
 * cloud-init checks the download (`sha256sum -c`) and stops the boot on a
 * mismatch; without it, a VM installs whatever the URL serves today.
 */

const DEFAULTS = { environments: [...DEFAULT_STRICT_ENVIRONMENTS] as string[] };

/** What `sha256sum` prints for a file (the spec accepts upper case and stores lower). */
const SHA256_HEX = /^[0-9a-fA-F]{64}$/;
/** Platforms whose members install runtime.packageUrl. */
const INSTALLS_TARBALL: readonly string[] = ['proxmox', 'vsphere'];

type Spec = { environment?: string; runtime?: Runtime; platform?: Platform; primary?: { platform?: Platform }; standby?: { platform?: Platform } };

function installsTarball(spec: Spec): boolean {
  return [spec.platform, spec.primary?.platform, spec.standby?.platform].some((p) => p !== undefined && INSTALLS_TARBALL.includes(p.kind));
}

export const verifiedRuntimePackage: StackValidationPolicy = {
  name: 'verified-runtime-package',
  description: 'A production cluster on VM platforms (Proxmox, vSphere) pins the SHA-256 of its runtime tarball (runtime.sha256), so every VM refuses a download that differs from the release.',
  enforcementLevel: 'mandatory',
  tags: ['supply-chain', 'proxmox', 'vsphere'],
  remediationSteps:
    'Set runtime.sha256 to the SHA-256 the release publishes for runtime.packageUrl (its SHA256SUMS asset, or `sha256sum mailfleet-x.y.z.tgz` on the tarball you verified; docs/release.md).',
  configSchema: {
    properties: {
      environments: { type: 'array', items: { type: 'string' }, default: DEFAULTS.environments, description: 'Environments whose VM clusters must pin runtime.sha256.' },
    },
  },
  validateStack: (args, reportViolation) => {
    const cfg = configOf(args, DEFAULTS);
    const clusters = clustersOf(args);
    const pairs = pairsOf(args);
    reportUnreadable([...clusters.unreadable, ...pairs.unreadable], reportViolation);
    for (const v of [...clusters.views, ...pairs.views] as TopologyView<Spec>[]) {
      if (!cfg.environments.includes(v.spec.environment ?? 'development') || !installsTarball(v.spec)) continue;
      const rt = v.spec.runtime ?? {};
      const url = rt.packageUrl ?? 'the default runtime.packageUrl';
      if (rt.sha256 === undefined) {
        reportViolation(
          `${v.spec.environment} cluster ${label(v)} installs ${url} on its VMs without runtime.sha256, so each VM installs whatever that URL serves when it boots; set runtime.sha256 to the release's SHA-256 (SHA256SUMS) and VMs refuse anything else.`,
          v.resource.urn,
        );
      } else if (typeof rt.sha256 !== 'string' || !SHA256_HEX.test(rt.sha256)) {
        reportViolation(`${label(v)}: runtime.sha256 is not a SHA-256 (64 hexadecimal characters, as sha256sum prints it); VMs could not check ${url} against it.`, v.resource.urn);
      }
    }
  },
};
