import * as docker from '@pulumi/docker';
import * as pulumi from '@pulumi/pulumi';
import type { RuntimeConfig } from '../../mail-runtime/config';
import { CONFIG_FILE, RUNTIME_UID, configUpload, secretUploads } from '../platforms/docker/secrets';
import { GUEST_PATHS } from '../render';
import type { PlatformOf } from '../spec';
import type { PrimaryPower } from './contract';
import { clientPorts } from './ports';
import { CONTROLLER_CREDENTIAL_FILES, dockerCredential, dockerCredentialFiles } from './controller';
import type { SiteBuild, SiteContext } from './types';

/**
 * A failover site on Docker: one host (the site's first `platform.hosts`
 * entry), the runtime image, the storage volume (local or the NFS driver)
 * and the member's container. The standby's container is created and not
 * started (`start: false`, `mustRun: false`, restart policy `no`), so a
 * host reboot does not start it either; the controller starts it through
 * the Engine API.
 *
 * Power grant: the Engine API has no per-container authorisation, so the
 * least privilege Docker allows is per host. The controller runs on the
 * standby host with that host's engine socket mounted and nothing else; it
 * reaches the primary's engine at the endpoint the primary exports
 * (`powerEndpoint`, an http(s) URL on a link only the two sites share).
 * Over TCP the engine runs with `--tlsverify`: the client certificate its
 * CA signed is the credential (SiteSettings.dockerTls, Pulumi secrets),
 * exported by the primary and mounted into the standby's controller; this
 * stack's provider uses the same bundle. Also keep that endpoint on a link
 * only the two sites share: anyone holding the bundle controls the engine.
 */

const DOCKER_SOCKET = '/var/run/docker.sock';

export function dockerSite(c: SiteContext): SiteBuild {
  const platform = c.spec[c.side].platform as PlatformOf<'docker'>;
  const host = platform.hosts[0]!;
  // tcp:// with TLS (the Docker convention for port 2376) is https:// to the Engine API.
  const endpoint = c.settings.powerEndpoint ?? (/^https?:\/\//.test(host) ? host : /^tcp:\/\//.test(host) ? host.replace(/^tcp:/, 'https:') : undefined);
  if (!endpoint) {
    throw new pulumi.ResourceError(
      `docker site "${c.spec[c.side].site.name}": the other site's failover controller reaches this host's Engine API over http(s); ${host} is not such a URL, so give one (FailoverSiteArgs.platform.powerEndpoint; stack config mailfleet:powerEndpoint, e.g. https://docker-ams.example.net:2376)`,
      c.parent,
    );
  }
  const id = c.member.memberId;
  const base = `${c.name}-all-${c.member.index}`;
  const tls = c.settings.dockerTls;
  if (!tls && endpoint.startsWith('https://')) {
    void pulumi.log.warn(
      `docker site "${c.spec[c.side].site.name}": ${endpoint} is TLS but no client certificate bundle is given (mailfleet:dockerTlsCa/Cert/Key): an engine with --tlsverify refuses the other site's failover controller, which then cannot fence or start this member`,
      c.parent,
    );
  }
  const provider = new docker.Provider(
    `${c.name}-host`,
    { host, ...(tls ? { caMaterial: tls.caPem, certMaterial: tls.certPem, keyMaterial: pulumi.secret(tls.keyPem) } : {}) },
    { parent: c.parent },
  );
  const opts = (extra?: pulumi.CustomResourceOptions): pulumi.CustomResourceOptions => ({ parent: c.parent, provider, ...extra });
  const image = new docker.RemoteImage(`${c.name}-image`, { name: c.spec.runtime.image, keepLocally: true }, opts());
  const storage = c.spec[c.side].storage;
  const nfs = storage.kind === 'docker-volume' ? storage.nfs : storage.kind === 'nfs' ? { server: storage.server, path: storage.path } : undefined;
  const volume = new docker.Volume(
    `${c.name}-storage`,
    {
      name: `${c.spec.name}-storage`,
      ...(nfs ? { driver: 'local', driverOpts: { type: 'nfs', o: `addr=${nfs.server},rw,nfsvers=4.1,hard`, device: `:${nfs.path}` } } : {}),
    },
    opts({ retainOnDelete: true }),
  );
  const ports = clientPorts(c.member.config);
  const container = new docker.Container(
    base,
    {
      name: id,
      hostname: id,
      image: image.imageId,
      // Stopped standby: created, never started by Docker itself.
      start: c.running,
      mustRun: c.running,
      restart: c.running ? 'unless-stopped' : 'no',
      command: ['run', '--role', 'all'],
      envs: [`MAILFLEET_CONFIG=${CONFIG_FILE}`],
      uploads: [configUpload(c.member.config), ...secretUploads(c.member.config, c.secrets)],
      mounts: [{ type: 'volume', source: volume.name, target: GUEST_PATHS.storage }],
      ports: ports.map((p) => ({ internal: p, external: p })),
      sysctls: { 'net.ipv4.ip_unprivileged_port_start': '0' },
      memory: c.spec[c.side].member.memoryMiB,
      cpus: String(c.spec[c.side].member.cpu),
      destroyGraceSeconds: 30,
      labels: [
        { label: 'mailfleet.cluster', value: c.spec.name },
        { label: 'mailfleet.role', value: 'all' },
        { label: 'mailfleet.member', value: id },
      ],
    },
    opts({ dependsOn: [volume] }),
  );
  const power: PrimaryPower = { kind: 'docker', endpoint, container: id, ...(tls ? { tls: true } : {}) };
  const hostName = (() => {
    try {
      return new URL(endpoint).hostname;
    } catch {
      return c.member.address;
    }
  })();
  return {
    resources: [provider, image, volume, container],
    // Ports are published on the host: the other site reaches the member at the host's name.
    address: container.id.apply(() => hostName),
    power: pulumi.output(power),
    credential: tls ? pulumi.secret(pulumi.all([tls.caPem, tls.certPem, tls.keyPem]).apply(([caPem, certPem, keyPem]) => dockerCredential({ caPem, certPem, keyPem }))) : pulumi.secret(''),
    standbyCredentialFile: CONTROLLER_CREDENTIAL_FILES.standby,
    controller(config: pulumi.Output<RuntimeConfig>, primaryCredential: pulumi.Output<string>): pulumi.Resource[] {
      const cid = `${c.spec.name}-controller`;
      // Inside the controller the standby's engine is its mounted socket (no TLS on a socket).
      const local = config.apply((x) => {
        if (x.role !== 'failover-controller' || x.standby.power.kind !== 'docker') return x;
        const { tls: _tls, ...own } = x.standby.power;
        return { ...x, standby: { ...x.standby, power: { ...own, endpoint: `unix://${DOCKER_SOCKET}` } } };
      });
      const fixed: docker.types.input.ContainerUpload[] = [
        { file: CONFIG_FILE, content: local.apply((x) => `${JSON.stringify(x, null, 2)}\n`), owner: RUNTIME_UID, group: RUNTIME_UID, permissions: '0444' },
        // The controller's config names the cluster token and TLS files of the member it shares the site with.
        ...secretUploads(c.member.config, c.secrets).filter((u) => u.file !== GUEST_PATHS.adminToken && !String(u.file).endsWith('dkim.key')),
      ];
      // The primary engine's client bundle (its --tlsverify credential), when it has one: three files, each a secret.
      const uploads = pulumi.secret(primaryCredential).apply((cred) => [
        ...fixed,
        ...dockerCredentialFiles(cred, CONTROLLER_CREDENTIAL_FILES.primary).map((f) => ({ ...f, content: pulumi.secret(f.content), owner: RUNTIME_UID, group: RUNTIME_UID, permissions: '0400' })),
      ]);
      const controller = new docker.Container(
        `${c.name}-controller`,
        {
          name: cid,
          hostname: cid,
          image: image.imageId,
          restart: 'unless-stopped',
          command: ['run', '--role', 'failover-controller'],
          envs: [`MAILFLEET_CONFIG=${CONFIG_FILE}`],
          // The engine socket needs the socket's group; the image's user stays otherwise unprivileged.
          user: `${RUNTIME_UID}:0`,
          uploads,
          mounts: [
            { type: 'volume', source: volume.name, target: GUEST_PATHS.storage },
            // The standby host's own engine, nothing else.
            { type: 'bind', source: DOCKER_SOCKET, target: DOCKER_SOCKET },
          ],
          // No published port: the member it starts publishes the site's ports.
          labels: [
            { label: 'mailfleet.cluster', value: c.spec.name },
            { label: 'mailfleet.role', value: 'failover-controller' },
          ],
        },
        opts({ dependsOn: [volume, container] }),
      );
      return [controller];
    },
  };
}
