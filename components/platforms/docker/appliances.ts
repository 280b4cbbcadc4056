import * as docker from '@pulumi/docker';
import type * as pulumi from '@pulumi/pulumi';
import { APPLIANCE_SIZES, CLAMAV_PATHS, CLAMAV_UID, RSPAMD_UID, appliancePlan, type ClamdPlan, type RspamdPlan } from '../../appliances';
import type { RenderedAppliance } from '../../render';
import type { ClusterSpec } from '../../spec';
import type { ApplianceArgs, Workload } from '../types';
import type { HostResources } from './network';

/**
 * The security appliances beside the gateways on Docker: per Docker host
 * that runs gateways, a clamd container (with a freshclam container beside
 * it) and an rspamd container, on that host's cluster network, named as
 * components/render.ts renderAppliances names them (`<cluster>-clamd-<h>`,
 * `<cluster>-rspamd-<h>`). Per host, not per site, because the host is
 * Docker's failure domain and network boundary: a gateway scans on its own
 * host's bridge through Docker's DNS (no route between hosts needed), and a
 * host that fails takes only its own gateways' scanners with it.
 *
 * Signatures: a named volume per host. Docker fills a new volume from the
 * image's own database on first mount, so clamd serves at once and freshclam
 * only fetches diffs; the volume outlives container replacement. With
 * `updates.mode: none` there is no volume and no freshclam: clamd reads the
 * image's database (the operator's image). Nothing is published on the host.
 */

const dockerUser = (uid: number) => String(uid);

const limits = (size: { cpu: number; memoryMiB: number }) => ({ memory: size.memoryMiB, cpus: String(size.cpu) });

const logging = { logDriver: 'json-file', logOpts: { 'max-size': '20m', 'max-file': '5' } };

/** Docker health checks: clamd answers PONG (clamdscan --ping), rspamd answers GET /ping (the image has bash, no HTTP client). */
export const APPLIANCE_HEALTHCHECKS: Record<'clamd' | 'rspamd', docker.types.input.ContainerHealthcheck> = {
  clamd: { tests: ['CMD', 'clamdscan', '--ping', '1'], interval: '30s', timeout: '10s', retries: 3, startPeriod: '10m' },
  rspamd: {
    tests: ['CMD', 'bash', '-c', 'exec 3<>/dev/tcp/127.0.0.1/11333 && printf "GET /ping HTTP/1.0\\r\\n\\r\\n" >&3 && grep -q pong <&3'],
    interval: '30s',
    timeout: '10s',
    retries: 3,
    startPeriod: '2m',
  },
};

export function signatureVolumeName(name: string): string {
  return `${name}-clamav-signatures`;
}

export interface ApplianceContext {
  /** The cluster component's name (labels, volume names). */
  name: string;
  spec: ClusterSpec;
  hosts: readonly HostResources[];
}

function labels(ctx: ApplianceContext, a: RenderedAppliance, daemon: string) {
  return [
    { label: 'mailfleet.cluster', value: ctx.name },
    { label: 'mailfleet.role', value: 'appliance' },
    { label: 'mailfleet.appliance', value: daemon },
    { label: 'mailfleet.serves', value: a.gateways.join(',') },
  ];
}

/**
 * Pulumi names: images and volumes after the parent component (`prefix`, so
 * a renamed cluster moves them), containers after their container name, like
 * the members' (a name that does not change with the component's).
 */
function clamdContainers(ctx: ApplianceContext, prefix: string, a: RenderedAppliance, plan: ClamdPlan, h: HostResources, parent: pulumi.Resource): pulumi.Resource[] {
  const opts = { parent, provider: h.provider };
  const image = new docker.RemoteImage(`${prefix}-clamd-image-${a.index}`, { name: plan.image, keepLocally: true }, opts);
  const config = (file: string, content: string) => ({ file: `/etc/clamav/${file}`, content, permissions: '0444' });
  const resources: pulumi.Resource[] = [image];
  let volume: docker.Volume | undefined;
  if (plan.freshclamConf !== undefined) {
    volume = new docker.Volume(
      `${prefix}-clamd-signatures-${a.index}`,
      { name: signatureVolumeName(ctx.name), driver: 'local', labels: [{ label: 'mailfleet.cluster', value: ctx.name }] },
      opts,
    );
    resources.push(volume);
  }
  const mounts = volume ? [{ type: 'volume', source: volume.name, target: CLAMAV_PATHS.database }] : [];
  const network = [{ name: h.network.name, aliases: [a.id] }];
  resources.push(
    new docker.Container(
      a.id,
      {
        name: a.id,
        hostname: a.id,
        image: image.imageId,
        user: dockerUser(CLAMAV_UID),
        // Foreground, logging and sockets come from clamd.conf (components/appliances).
        entrypoints: ['clamd'],
        restart: 'unless-stopped',
        uploads: [config('clamd.conf', plan.clamdConf)],
        mounts,
        networksAdvanced: network,
        healthcheck: APPLIANCE_HEALTHCHECKS.clamd,
        ...limits(APPLIANCE_SIZES.clamd),
        ...logging,
        labels: labels(ctx, a, 'clamd'),
      },
      { ...opts, dependsOn: volume ? [volume] : [] },
    ),
  );
  if (plan.freshclamConf !== undefined) {
    const id = `${ctx.spec.name}-freshclam-${a.index}`;
    resources.push(
      new docker.Container(
        id,
        {
          name: id,
          image: image.imageId,
          user: dockerUser(CLAMAV_UID),
          entrypoints: ['freshclam'],
          command: ['--daemon', '--stdout'],
          restart: 'unless-stopped',
          uploads: [config('freshclam.conf', plan.freshclamConf)],
          mounts,
          networksAdvanced: [{ name: h.network.name }],
          ...limits(APPLIANCE_SIZES.freshclam),
          ...logging,
          labels: labels(ctx, a, 'freshclam'),
        },
        { ...opts, dependsOn: volume ? [volume] : [] },
      ),
    );
  }
  return resources;
}

function rspamdContainer(ctx: ApplianceContext, prefix: string, a: RenderedAppliance, plan: RspamdPlan, h: HostResources, parent: pulumi.Resource): pulumi.Resource[] {
  const opts = { parent, provider: h.provider };
  const image = new docker.RemoteImage(`${prefix}-rspamd-image-${a.index}`, { name: plan.image, keepLocally: true }, opts);
  const container = new docker.Container(
    a.id,
    {
      name: a.id,
      hostname: a.id,
      image: image.imageId,
      user: `${RSPAMD_UID}:${RSPAMD_UID}`,
      restart: 'unless-stopped',
      uploads: Object.entries(plan.localFiles).map(([file, content]) => ({ file: `/etc/rspamd/local.d/${file}`, content, permissions: '0444' })),
      networksAdvanced: [{ name: h.network.name, aliases: [a.id] }],
      healthcheck: APPLIANCE_HEALTHCHECKS.rspamd,
      ...limits(APPLIANCE_SIZES.rspamd),
      ...logging,
      labels: labels(ctx, a, 'rspamd'),
    },
    opts,
  );
  return [image, container];
}

export function createAppliances(ctx: ApplianceContext, args: ApplianceArgs, parent: pulumi.Resource): Workload {
  const plan = appliancePlan(ctx.spec, 'container');
  const resources: pulumi.Resource[] = [];
  const addresses: pulumi.Output<string>[] = [];
  for (const a of args.appliances) {
    // render.ts numbers Docker appliances by host: appliance h runs on hosts[h].
    const h = ctx.hosts[a.index]!;
    const made = a.kind === 'clamd' ? clamdContainers(ctx, args.namePrefix, a, plan.clamd!, h, parent) : rspamdContainer(ctx, args.namePrefix, a, plan.rspamd!, h, parent);
    resources.push(...made);
    const container = made.find((r): r is docker.Container => r instanceof docker.Container)!;
    addresses.push(container.name.apply(() => `${a.host}:${a.port}`));
  }
  return { resources, addresses };
}
