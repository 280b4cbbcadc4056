import type { PolicyResource, StackValidationPolicy } from '@pulumi/policy';
import { unpinnedPackageReason, unpinnedReason } from '../lib/images';
import { containersOf, podSpecOf } from '../lib/platform';
import { DOCKER } from '../lib/tokens';
import { clustersOf, label, pairsOf, reportUnreadable, type TopologyView } from '../lib/topology';
import { at, str } from '../lib/walk';

/**
 * 10. The runtime image is pinned. `latest` (or any moving tag) makes two
 * members of one cluster run different code after a reschedule, and makes a
 * rollback impossible: every image is a digest or an exact version. VM
 * platforms install the runtime tarball, which must name an exact release.
 */

type Spec = { runtime?: { image?: string; build?: boolean; packageUrl?: string }; platform?: { kind?: string } };

/** Image references a resource will run: pod containers, Docker containers and pulled images. */
function imagesOf(r: PolicyResource): Array<{ where: string; ref: string }> {
  const out: Array<{ where: string; ref: string }> = [];
  const pod = podSpecOf(r);
  if (pod) for (const c of containersOf(pod)) {
    const ref = str(c.container.image);
    if (ref !== undefined) out.push({ where: `${c.where} (${c.name})`, ref });
  }
  if (r.type === DOCKER.container) {
    const ref = str(at(r.props, 'image'));
    // A built or pulled image's id (sha256:...) is pinned by construction.
    if (ref !== undefined && !/^sha256:[0-9a-f]{64}$/.test(ref)) out.push({ where: 'image', ref });
  }
  if (r.type === DOCKER.remoteImage) {
    const ref = str(at(r.props, 'name'));
    if (ref !== undefined) out.push({ where: 'name', ref });
  }
  if (r.type === DOCKER.image) {
    const ref = str(at(r.props, 'imageName'));
    if (ref !== undefined) out.push({ where: 'imageName', ref });
  }
  return out;
}

export const pinnedRuntimeImage: StackValidationPolicy = {
  name: 'pinned-runtime-image',
  description: 'The runtime image (and every other container image) is pinned to a digest or an exact version, never latest; VM platforms install an exact runtime release.',
  enforcementLevel: 'mandatory',
  tags: ['supply-chain', 'kubernetes', 'docker', 'proxmox', 'vsphere'],
  remediationSteps: 'Set runtime.image to an exact version (ghcr.io/acme/mailfleet:1.4.2) or a digest (…@sha256:…), and runtime.packageUrl to a versioned tarball.',
  validateStack: (args, reportViolation) => {
    const clusters = clustersOf(args);
    const pairs = pairsOf(args);
    reportUnreadable([...clusters.unreadable, ...pairs.unreadable], reportViolation);
    const kindsOf = (v: TopologyView<Spec>): string[] => {
      const s = v.spec as Spec & { primary?: Spec; standby?: Spec };
      return [s.platform?.kind, s.primary?.platform?.kind, s.standby?.platform?.kind].filter((k): k is string => Boolean(k));
    };
    for (const v of [...clusters.views, ...pairs.views] as TopologyView<Spec>[]) {
      const kinds = kindsOf(v);
      const rt = v.spec.runtime ?? {};
      const usesImage = kinds.some((k) => k === 'kubernetes' || k === 'docker');
      const usesPackage = kinds.some((k) => k === 'proxmox' || k === 'vsphere');
      // With runtime.build on Docker the image is built here and tagged with the package version.
      const buildsOnly = rt.build === true && kinds.every((k) => k === 'docker');
      if (usesImage && !buildsOnly && rt.image !== undefined) {
        const why = unpinnedReason(rt.image);
        if (why) reportViolation(`${label(v)} runs runtime.image "${rt.image}", which is not pinned: ${why}. Use an exact version or a digest.`, v.resource.urn);
      }
      if (usesPackage && rt.packageUrl !== undefined) {
        const why = unpinnedPackageReason(rt.packageUrl);
        if (why) reportViolation(`${label(v)} installs runtime.packageUrl "${rt.packageUrl}", which is not pinned: ${why}. Point it at a versioned tarball (mailfleet-x.y.z.tgz).`, v.resource.urn);
      }
    }
    // Every image the stack will run, whoever wrote it.
    for (const r of args.resources) {
      for (const img of imagesOf(r)) {
        const why = unpinnedReason(img.ref);
        if (why) reportViolation(`"${r.name}" ${img.where} uses image "${img.ref}", which is not pinned: ${why}. Use an exact version or a digest.`, r.urn);
      }
    }
  },
};
