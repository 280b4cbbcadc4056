import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as proxmox from '@muhlba91/pulumi-proxmoxve';
import * as docker from '@pulumi/docker';
import * as k8s from '@pulumi/kubernetes';
import * as pulumi from '@pulumi/pulumi';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { installCapture, type Capture, type CapturedResource } from '../../../components/offline/capture';
import { commonMockOutputs, composeMockOutputs } from '../../../components/offline/mock-outputs';
import { platformInvokeResult, platformMockOutputs } from '../../../components/offline/platform-mocks';
import { MailCluster } from '../../../components/mail-cluster';
import { Provider as VsphereProvider } from '../../../components/platforms/vsphere/binding';
import type { ClusterSpecInput } from '../../../components/spec';
import { PROXMOX_CREDENTIALS, proxmoxSpec } from './proxmox/fixtures';
import { VSPHERE_CREDENTIALS, exampleSpec as vsphereSpec } from './vsphere/harness';

/**
 * Providers: a provider the caller gives (opts.providers, a parent's
 * providers, per Docker host) is used by every child resource of that
 * package; without one the component builds exactly one (one per Docker
 * host) from the spec and the credentials passed in args.
 */

const run = installCapture({ stack: 'unit', outputsFor: composeMockOutputs(commonMockOutputs, platformMockOutputs), invokeResult: platformInvokeResult });

// The capture does not record which provider an invoke (data source) went to.
const invokeProviders: { token: string; provider: string }[] = [];
{
  interface Monitor {
    invoke(req: { getTok(): string; getProvider(): string }, cb: (err: Error | null, resp?: unknown) => void): unknown;
  }
  const monitor = pulumi.runtime.getMonitor() as unknown as Monitor;
  const invoke = monitor.invoke.bind(monitor);
  monitor.invoke = (req, cb) => {
    invokeProviders.push({ token: req.getTok(), provider: req.getProvider() });
    return invoke(req, cb);
  };
}

const specFile = (f: string) => parse(readFileSync(join(__dirname, '..', '..', '..', 'examples', 'specs', f), 'utf8')) as ClusterSpecInput;
const providersOf = (cap: Capture, pkg: string) => cap.resources.filter((r) => r.type === `pulumi:providers:${pkg}`);
const resourcesOf = (cap: Capture, pkg: string) => cap.resources.filter((r) => r.custom && r.type.startsWith(`${pkg}:`));
const usesProvider = (r: CapturedResource, p: CapturedResource) => (r.options.provider ?? '').startsWith(`${p.urn}::`);
const named = (cap: Capture, name: string) => cap.resources.find((r) => r.name === name)!;

/** Every resource of the package uses `p`, and there is at least one. */
function expectAllOn(cap: Capture, pkg: string, p: CapturedResource) {
  const rs = resourcesOf(cap, pkg);
  expect(rs.length).toBeGreaterThan(3);
  expect(rs.filter((r) => !usesProvider(r, p)).map((r) => r.name)).toEqual([]);
}

describe('proxmox', () => {
  it('uses the provider given in opts.providers for every child; builds none; needs no credentials', async () => {
    const cap = await run(() => {
      const mine = new proxmox.Provider('my-pve', { endpoint: 'https://pve.example.net:8006/', apiToken: pulumi.secret('t') });
      new MailCluster('mail', { spec: proxmoxSpec(3) }, { providers: [mine] });
    });
    expect(providersOf(cap, 'proxmoxve').map((p) => p.name)).toEqual(['my-pve']);
    expectAllOn(cap, 'proxmoxve', named(cap, 'my-pve'));
  });

  it("inherits a parent component's provider, and it wins over credentials", async () => {
    class Site extends pulumi.ComponentResource {
      constructor(name: string, opts: pulumi.ComponentResourceOptions) {
        super('acme:index:Site', name, {}, opts);
        new MailCluster('mail', { spec: proxmoxSpec(3), credentials: PROXMOX_CREDENTIALS }, { parent: this });
      }
    }
    const cap = await run(() => {
      const mine = new proxmox.Provider('site-pve', { endpoint: 'https://pve.example.net:8006/' });
      new Site('site', { providers: { proxmoxve: mine } });
    });
    expect(providersOf(cap, 'proxmoxve').map((p) => p.name)).toEqual(['site-pve']);
    expectAllOn(cap, 'proxmoxve', named(cap, 'site-pve'));
  });

  it('without one, builds exactly one from the spec endpoint and the credentials, parented to the cluster', async () => {
    const cap = await run(() => new MailCluster('mail', { spec: proxmoxSpec(3), credentials: PROXMOX_CREDENTIALS }));
    const built = providersOf(cap, 'proxmoxve');
    expect(built.map((p) => p.name)).toEqual(['mail-proxmox']);
    expect(built[0]!.parent).toBe(named(cap, 'mail').urn);
    expect(built[0]!.inputs.endpoint).toBe('https://pve1.example.net:8006/');
    expectAllOn(cap, 'proxmoxve', built[0]!);
  });
});

describe('vsphere', () => {
  it('uses the provider given in opts.providers for every child and every inventory look-up', async () => {
    invokeProviders.length = 0;
    const cap = await run(() => {
      const mine = new VsphereProvider('my-vc', { vsphereServer: 'vc.example.com', user: 'u', password: 'p' });
      new MailCluster('mail', { spec: vsphereSpec() }, { providers: [mine] });
    });
    const mine = named(cap, 'my-vc');
    expect(providersOf(cap, 'vsphere').map((p) => p.name)).toEqual(['my-vc']);
    expectAllOn(cap, 'vsphere', mine);
    expect(invokeProviders.length).toBeGreaterThanOrEqual(5);
    expect(invokeProviders.filter((i) => !i.provider.startsWith(`${mine.urn}::`))).toEqual([]);
  });

  it('without one, builds exactly one for the spec vCenter with the credentials', async () => {
    invokeProviders.length = 0;
    const cap = await run(() => new MailCluster('mail', { spec: vsphereSpec(), credentials: VSPHERE_CREDENTIALS }));
    const built = providersOf(cap, 'vsphere');
    expect(built.map((p) => p.name)).toEqual(['mail-vsphere']);
    expect(built[0]!.inputs.vsphereServer).toBe('vcenter.corp.example.com');
    expectAllOn(cap, 'vsphere', built[0]!);
    expect(invokeProviders.filter((i) => !i.provider.startsWith(`${built[0]!.urn}::`))).toEqual([]);
  });
});

describe('docker', () => {
  const spec = specFile('docker-ha.yaml'); // two ssh:// hosts
  const hosts = (spec.platform as { hosts: string[] }).hosts;
  const single: ClusterSpecInput = { name: 'solo', platform: { kind: 'docker', hosts: ['tcp://docker.example.com:2376'] }, domains: [{ name: 'example.com' }] };

  it('uses the provider given per host (dockerHosts) for that host\'s resources; builds none', async () => {
    const cap = await run(() => {
      const dockerHosts = Object.fromEntries(hosts.map((h, i) => [h, new docker.Provider(`my-docker-${i}`, { host: h })]));
      new MailCluster('mail-stage', { spec, dockerHosts });
    });
    expect(providersOf(cap, 'docker').map((p) => p.name).sort()).toEqual(['my-docker-0', 'my-docker-1']);
    const p0 = named(cap, 'my-docker-0');
    const p1 = named(cap, 'my-docker-1');
    const rs = resourcesOf(cap, 'docker');
    expect(rs.filter((r) => !usesProvider(r, p0) && !usesProvider(r, p1)).map((r) => r.name)).toEqual([]);
    // Round robin: member i on host i mod 2.
    expect(usesProvider(named(cap, 'mail-stage-node-0'), p0)).toBe(true);
    expect(usesProvider(named(cap, 'mail-stage-node-1'), p1)).toBe(true);
    expect(usesProvider(named(cap, 'mail-stage-net-1'), p1)).toBe(true);
  });

  it('builds a provider only for the hosts not given, once each', async () => {
    const cap = await run(() => new MailCluster('mail-stage', { spec, dockerHosts: { [hosts[1]!]: new docker.Provider('my-docker-1', { host: hosts[1]! }) } }));
    expect(providersOf(cap, 'docker').map((p) => p.name).sort()).toEqual(['mail-stage-host-0', 'my-docker-1']);
    expect(named(cap, 'mail-stage-host-0').inputs.host).toBe(hosts[0]);
    expect(usesProvider(named(cap, 'mail-stage-node-0'), named(cap, 'mail-stage-host-0'))).toBe(true);
    expect(usesProvider(named(cap, 'mail-stage-node-1'), named(cap, 'my-docker-1'))).toBe(true);
  });

  it('a single-host cluster uses the docker provider in opts.providers', async () => {
    const cap = await run(() => {
      const mine = new docker.Provider('my-docker', { host: 'tcp://docker.example.com:2376' });
      new MailCluster('solo', { spec: single }, { providers: [mine] });
    });
    expect(providersOf(cap, 'docker').map((p) => p.name)).toEqual(['my-docker']);
    expectAllOn(cap, 'docker', named(cap, 'my-docker'));
  });

  it('without any, builds one per host from its URL', async () => {
    const cap = await run(() => new MailCluster('mail-stage', { spec }));
    const built = providersOf(cap, 'docker');
    expect(built.map((p) => [p.name, p.inputs.host])).toEqual([
      ['mail-stage-host-0', hosts[0]],
      ['mail-stage-host-1', hosts[1]],
    ]);
  });

  it('refuses, before creating anything, a host key that is not in the spec and one provider for several hosts', async () => {
    let cap = await run(() => {
      expect(() => new MailCluster('mail-stage', { spec, dockerHosts: { 'ssh://deploy@typo.example.com': new docker.Provider('x', {}) } })).toThrow(
        /dockerHosts: "ssh:\/\/deploy@typo\.example\.com" is not one of platform\.hosts/,
      );
    });
    expect(resourcesOf(cap, 'docker')).toEqual([]);
    cap = await run(() => {
      const one = new docker.Provider('one', {});
      expect(() => new MailCluster('mail-stage', { spec }, { providers: [one] })).toThrow(/one docker provider but the cluster has 2 Docker hosts: pass one per host in dockerHosts/);
    });
    expect(resourcesOf(cap, 'docker')).toEqual([]);
  });
});

describe('kubernetes', () => {
  const spec = specFile('kubernetes-ha.yaml');
  it('the given provider wins over the spec context; with neither, children use the default provider', async () => {
    const withContext = { ...spec, platform: { ...(spec.platform as object), context: 'prod' } } as ClusterSpecInput;
    const given = await run(() => {
      const mine = new k8s.Provider('my-k8s', { context: 'admin@prod' });
      new MailCluster('mail', { spec: withContext }, { providers: [mine] });
    });
    expect(providersOf(given, 'kubernetes').map((p) => p.name)).toEqual(['my-k8s']);
    expectAllOn(given, 'kubernetes', named(given, 'my-k8s'));

    const fromContext = await run(() => new MailCluster('mail', { spec: withContext }));
    expect(providersOf(fromContext, 'kubernetes').map((p) => [p.name, p.inputs.context])).toEqual([['mail-k8s', 'prod']]);
    expectAllOn(fromContext, 'kubernetes', named(fromContext, 'mail-k8s'));

    const ambient = await run(() => new MailCluster('mail', { spec }));
    expect(providersOf(ambient, 'kubernetes')).toEqual([]);
    expect(resourcesOf(ambient, 'kubernetes').filter((r) => r.options.provider).map((r) => r.name)).toEqual([]);
  });
});
