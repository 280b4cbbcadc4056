import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, posix } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { MailCluster } from '../../../../components/mail-cluster';
import { kubernetesMockOutputs } from '../../../../components/platforms/kubernetes';
import { CONFIG_HASH_ANNOTATION, CONFIG_MOUNT } from '../../../../components/platforms/kubernetes/meta';
import { type Capture, installCapture, isSecretValue, secretPaths, unwrapSecrets } from '../../../../components/offline/capture';
import { commonMockOutputs, composeMockOutputs } from '../../../../components/offline/mock-outputs';
import { renderRuntimeConfigs } from '../../../../components/render';
import { parseClusterSpec, type ClusterSpecInput } from '../../../../components/spec';
import { loadRuntimeConfig, parseRuntimeConfig } from '../../../../mail-runtime/config';
import { countByType, exampleSpec, expectSchemaValid, kubeObjects, ofType, one, plain } from './helpers';
import { manifestOf, validateManifest } from './schema';

const run = installCapture({ outputsFor: composeMockOutputs(commonMockOutputs, kubernetesMockOutputs) });

const T = {
  ns: 'kubernetes:core/v1:Namespace',
  secret: 'kubernetes:core/v1:Secret',
  cm: 'kubernetes:core/v1:ConfigMap',
  svc: 'kubernetes:core/v1:Service',
  pv: 'kubernetes:core/v1:PersistentVolume',
  pvc: 'kubernetes:core/v1:PersistentVolumeClaim',
  sts: 'kubernetes:apps/v1:StatefulSet',
  deploy: 'kubernetes:apps/v1:Deployment',
  pdb: 'kubernetes:policy/v1:PodDisruptionBudget',
  netpol: 'kubernetes:networking.k8s.io/v1:NetworkPolicy',
  cert: 'kubernetes:cert-manager.io/v1:Certificate',
  provider: 'pulumi:providers:kubernetes',
} as const;

const ROLES = ['hub', 'node', 'gateway', 'proxy'] as const;
type Role = (typeof ROLES)[number];
const WORKLOAD_TYPE: Record<Role, string> = { hub: T.sts, node: T.sts, gateway: T.sts, proxy: T.deploy };
const WORKLOAD_NAME: Record<Role, string> = {
  hub: 'mail-prod-hub-statefulset',
  node: 'mail-prod-node-statefulset',
  gateway: 'mail-prod-gateway-statefulset',
  proxy: 'mail-prod-proxy-deployment',
};

function build(spec: ClusterSpecInput, secrets?: { tlsPrivateKey?: string }) {
  return run(() => {
    const c = new MailCluster('mail-prod', { spec, secrets });
    return { endpoints: c.endpoints, members: c.members, storage: c.storage, adminToken: c.adminToken };
  });
}

const withSpec = (patch: (s: Record<string, unknown>) => void): ClusterSpecInput => {
  const s = structuredClone(exampleSpec()) as unknown as Record<string, unknown>;
  patch(s);
  return s as unknown as ClusterSpecInput;
};

/** The ports the rendered proxy config listens on, sorted. */
function proxyListenPorts(): number[] {
  const proxy = renderRuntimeConfigs(parseClusterSpec(exampleSpec())).find((m) => m.role === 'proxy')!.config;
  return Object.values(proxy.listen)
    .filter((l): l is { host: string; port: number } => !!l)
    .map((l) => l.port)
    .sort((a, b) => a - b);
}

const podSpec = (cap: Capture, role: Role) => plain(one(cap, WORKLOAD_TYPE[role], WORKLOAD_NAME[role])).spec.template.spec;
const container = (cap: Capture, role: Role) => podSpec(cap, role).containers[0];

let cap: Capture;
beforeAll(async () => {
  cap = await build(exampleSpec());
});

describe('kubernetes adapter: the HA example (3 nodes, cert-manager, pvc-rwx)', () => {
  it('creates the expected objects, with no duplicate URNs', () => {
    expect(cap.duplicates).toEqual([]);
    expect(countByType(cap)).toEqual({
      [T.ns]: 1,
      [T.secret]: 3, // tokens, dkim, the cluster-internal CA + hub certificate (cert-manager writes the TLS Secret)
      [T.cert]: 1,
      // The example deploys clamd and rspamd beside the gateways: one ConfigMap,
      // Service, Deployment, PDB and NetworkPolicy each (appliances.test.ts).
      [T.cm]: 4 + 2,
      [T.svc]: 6 + 2, // 4 role Services + smtp + clients + the two scanners
      [T.pvc]: 1,
      [T.sts]: 3,
      [T.deploy]: 1 + 2,
      [T.pdb]: 4 + 2,
      [T.netpol]: 4 + 2,
    });
    // No explicit provider without platform.context.
    expect(ofType(cap, T.provider)).toHaveLength(0);
    const ns = plain(one(cap, T.ns, 'mail-prod-namespace'));
    expect(ns.metadata.name).toBe('mail-prod');
    expect(ns.metadata.labels['pod-security.kubernetes.io/enforce']).toBe('restricted');
    for (const r of kubeObjects(cap).filter((o) => o.type !== T.ns)) expect(plain(r).metadata.namespace, r.name).toBe('mail-prod');
  });

  it('every Kubernetes object passes the Kubernetes schema', () => {
    expect(expectSchemaValid(cap)).toBe(kubeObjects(cap).length);
  });

  it('the schema check catches a broken object (control)', () => {
    const sts = manifestOf(one(cap, T.sts, WORKLOAD_NAME.node)) as { spec: { replicas: unknown; template: { spec: { containers: { ports: { containerPort: unknown }[] }[] } } } };
    const badReplicas = structuredClone(sts);
    badReplicas.spec.replicas = '3';
    expect(() => validateManifest(T.sts, badReplicas as never)).toThrow(/replicas/);
    const badPort = structuredClone(sts);
    badPort.spec.template.spec.containers[0]!.ports[0]!.containerPort = 'imap';
    expect(() => validateManifest(T.sts, badPort as never)).toThrow(/containerPort/);
    const cert = manifestOf(one(cap, T.cert, 'mail-prod-certificate')) as { spec: Record<string, unknown> };
    const badCert = structuredClone(cert);
    badCert.spec.privateKey = { algorithm: 'ECDSA', size: 2048 };
    expect(() => validateManifest(T.cert, badCert as never)).toThrow(/size/);
  });

  it('runs hubs, nodes and gateways as StatefulSets whose pods carry the member names render.ts advertises', () => {
    const members = renderRuntimeConfigs(parseClusterSpec(exampleSpec()));
    // A gateway's id names its queue folder: a rescheduled pod must come back as the same member (no MAILFLEET_MEMBER_ID from a random pod name).
    expect(container(cap, 'gateway').env.map((e: { name: string }) => e.name)).not.toContain('MAILFLEET_MEMBER_ID');
    for (const role of ['hub', 'node', 'gateway'] as const) {
      const sts = plain(one(cap, T.sts, WORKLOAD_NAME[role]));
      const svc = plain(one(cap, T.svc, `mail-prod-${role}-service`));
      expect(svc.spec.clusterIP).toBe('None');
      expect(sts.spec.serviceName).toBe(svc.metadata.name);
      expect(svc.spec.selector).toEqual(sts.spec.selector.matchLabels);
      const ofRole = members.filter((m) => m.role === role);
      expect(sts.spec.replicas).toBe(ofRole.length);
      for (const m of ofRole) {
        // StatefulSet pod <set>-<i>, governed by <svc>, in <ns>.
        expect(m.memberId).toBe(`${sts.metadata.name}-${m.index}`);
        expect(m.address).toBe(`${sts.metadata.name}-${m.index}.${svc.metadata.name}.${sts.metadata.namespace}.svc.cluster.local`);
      }
    }
    // The hub URL resolves through the hubs' Service on the hub API port.
    const hubUrl = new URL(members[0]!.config.hubUrl!);
    const hubSvc = plain(one(cap, T.svc, 'mail-prod-hub-service'));
    expect(hubUrl.hostname).toBe(`${hubSvc.metadata.name}.mail-prod.svc.cluster.local`);
    expect(hubSvc.spec.ports.map((p: { port: number }) => p.port)).toContain(Number(hubUrl.port || 443));
  });

  it('runs proxies as Deployments behind ClusterIP Services at render.ts addresses', () => {
    const members = renderRuntimeConfigs(parseClusterSpec(exampleSpec()));
    for (const role of ['proxy'] as const) {
      const d = plain(one(cap, T.deploy, WORKLOAD_NAME[role]));
      const svc = plain(one(cap, T.svc, `mail-prod-${role}-service`));
      expect(svc.spec.type).toBe('ClusterIP');
      expect(d.spec.replicas).toBe(2);
      expect(d.spec.strategy.rollingUpdate).toEqual({ maxSurge: 1, maxUnavailable: 0 });
      for (const m of members.filter((x) => x.role === role)) expect(m.address).toBe(`${svc.metadata.name}.mail-prod.svc.cluster.local`);
    }
    expect(plain(one(cap, T.sts, WORKLOAD_NAME.hub)).spec.replicas).toBe(2);
    expect(plain(one(cap, T.sts, WORKLOAD_NAME.node)).spec.replicas).toBe(3);
  });

  it('orders creation without a wait cycle: workloads after storage, secrets and config, never after their Service', () => {
    const pvc = one(cap, T.pvc, 'mail-prod-storage-pvc').urn;
    const tokens = one(cap, T.secret, 'mail-prod-tokens').urn;
    for (const role of ROLES) {
      const deps = one(cap, WORKLOAD_TYPE[role], WORKLOAD_NAME[role]).options.dependsOn;
      expect(deps).toEqual(expect.arrayContaining([pvc, tokens, one(cap, T.cm, `mail-prod-${role}-config`).urn]));
      // Pulumi waits for a ClusterIP Service to select ready pods: depending on it would deadlock.
      expect(deps).not.toContain(one(cap, T.svc, `mail-prod-${role}-service`).urn);
    }
    // The public Services come after the edge workloads are ready.
    const smtpDeps = one(cap, T.svc, 'mail-prod-lb-smtp').options.dependsOn;
    expect(smtpDeps).toContain(one(cap, T.sts, WORKLOAD_NAME.gateway).urn);
  });

  it('spreads every role over hosts and zones (soft) and budgets one disruption at a time', () => {
    for (const role of ROLES) {
      const spec = podSpec(cap, role);
      const labels = plain(one(cap, WORKLOAD_TYPE[role], WORKLOAD_NAME[role])).spec.selector.matchLabels;
      expect(spec.topologySpreadConstraints.map((c: { topologyKey: string }) => c.topologyKey)).toEqual(['kubernetes.io/hostname', 'topology.kubernetes.io/zone']);
      for (const c of spec.topologySpreadConstraints) {
        expect(c).toMatchObject({ maxSkew: 1, whenUnsatisfiable: 'ScheduleAnyway', labelSelector: { matchLabels: labels } });
      }
      const anti = spec.affinity.podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution;
      expect(anti[0]).toMatchObject({ weight: 100, podAffinityTerm: { topologyKey: 'kubernetes.io/hostname', labelSelector: { matchLabels: labels } } });
      expect(spec.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution).toBeUndefined();
      const pdb = plain(one(cap, T.pdb, `mail-prod-${role}-pdb`));
      expect(pdb.spec).toMatchObject({ maxUnavailable: 1, selector: { matchLabels: labels } });
      // The template's labels satisfy the selector.
      expect(plain(one(cap, WORKLOAD_TYPE[role], WORKLOAD_NAME[role])).spec.template.metadata.labels).toMatchObject(labels);
    }
  });

  it('probes /readyz and /healthz on the management port, and sets limits from the role size', () => {
    const sizes = { hub: ['1000m', '1024Mi'], node: ['2000m', '4096Mi'], gateway: ['1000m', '2048Mi'], proxy: ['1000m', '512Mi'] } as const;
    for (const role of ROLES) {
      const c = container(cap, role);
      const mgmt = c.ports.find((p: { name: string }) => p.name === 'management');
      expect(mgmt.containerPort).toBe(9090);
      expect(c.readinessProbe.httpGet).toEqual({ path: '/readyz', port: 'management', scheme: 'HTTP' });
      expect(c.livenessProbe.httpGet).toEqual({ path: '/healthz', port: 'management', scheme: 'HTTP' });
      expect(c.startupProbe.httpGet.path).toBe('/healthz');
      const [cpu, memory] = sizes[role];
      expect(c.resources.requests).toMatchObject({ cpu, memory });
      expect(c.resources.limits).toEqual(c.resources.requests);
      expect(c.image).toBe('ghcr.io/mailfleet/mailfleet:0.1.0');
      expect(c.command).toEqual(['node', '/app/bin/mailfleet.js', 'run']);
      expect(c.args).toEqual(['--role', role]);
    }
  });

  it('runs non-root with a read-only root filesystem and only NET_BIND_SERVICE', () => {
    for (const role of ROLES) {
      const spec = podSpec(cap, role);
      const c = spec.containers[0];
      expect(spec.securityContext).toMatchObject({ runAsNonRoot: true, fsGroupChangePolicy: 'OnRootMismatch', seccompProfile: { type: 'RuntimeDefault' } });
      expect(spec.securityContext.runAsUser).toBeGreaterThan(0);
      expect(spec.securityContext.sysctls).toEqual([{ name: 'net.ipv4.ip_unprivileged_port_start', value: '0' }]);
      expect(c.securityContext).toEqual({
        runAsNonRoot: true,
        allowPrivilegeEscalation: false,
        readOnlyRootFilesystem: true,
        capabilities: { drop: ['ALL'], add: ['NET_BIND_SERVICE'] },
      });
      expect(spec.automountServiceAccountToken).toBe(false);
      expect(spec.enableServiceLinks).toBe(false);
      expect(c.volumeMounts.find((m: { mountPath: string }) => m.mountPath === '/tmp')).toBeTruthy();
    }
  });

  it('ships exactly each member\'s rendered RuntimeConfig in its role\'s ConfigMap', () => {
    const members = renderRuntimeConfigs(parseClusterSpec(exampleSpec()));
    for (const role of ROLES) {
      const cm = plain(one(cap, T.cm, `mail-prod-${role}-config`));
      const ofRole = members.filter((m) => m.role === role);
      expect(Object.keys(cm.data).sort()).toEqual(ofRole.map((m) => `${m.memberId}.json`).sort());
      for (const m of ofRole) {
        const parsed = parseRuntimeConfig(JSON.parse(cm.data[`${m.memberId}.json`]), m.memberId);
        expect(parsed).toEqual(m.config);
      }
      // Mounted where MAILFLEET_CONFIG points.
      const spec = podSpec(cap, role);
      expect(spec.volumes.find((v: { name: string }) => v.name === 'config').configMap.name).toBe(cm.metadata.name);
      expect(spec.containers[0].volumeMounts.find((v: { name: string }) => v.name === 'config').mountPath).toBe(CONFIG_MOUNT);
    }
  });

  it('each pod loads its own config through the runtime loader (env + mounted files)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'mailfleet-k8s-'));
    try {
      for (const role of ROLES) {
        const cm = plain(one(cap, T.cm, `mail-prod-${role}-config`));
        for (const [file, text] of Object.entries(cm.data)) writeFileSync(join(dir, file), text as string);
        const workload = plain(one(cap, WORKLOAD_TYPE[role], WORKLOAD_NAME[role]));
        const stateful = WORKLOAD_TYPE[role] === T.sts;
        const env: Record<string, string> = workload.spec.template.spec.containers[0].env;
        for (let i = 0; i < workload.spec.replicas; i++) {
          const podName = stateful ? `${workload.metadata.name}-${i}` : `${workload.metadata.name}-5d9c7b8f6-x${i}k2q`;
          // Do what the kubelet does: fieldRef for POD_NAME, then $(VAR) expansion in order.
          const vars: Record<string, string> = {};
          for (const e of env as unknown as { name: string; value?: string; valueFrom?: { fieldRef: { fieldPath: string } } }[]) {
            if (e.valueFrom) {
              expect(e.valueFrom.fieldRef.fieldPath).toBe('metadata.name');
              vars[e.name] = podName;
            } else vars[e.name] = e.value!.replace(/\$\(([A-Z_]+)\)/g, (_, n: string) => vars[n] ?? `$(${n})`);
          }
          expect(vars.MAILFLEET_CONFIG!.startsWith(`${CONFIG_MOUNT}/`)).toBe(true);
          const config = loadRuntimeConfig({ env: { ...vars, MAILFLEET_CONFIG: vars.MAILFLEET_CONFIG!.replace(CONFIG_MOUNT, dir) } });
          expect(config.role).toBe(role);
          expect(config.memberId).toBe(podName);
        }
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('mounts every secret file a config names from a Secret that holds it, and no more', () => {
    const members = renderRuntimeConfigs(parseClusterSpec(exampleSpec()));
    const secrets = new Map(ofType(cap, T.secret).map((r) => [plain(r).metadata.name as string, plain(r)]));
    const certSecret = plain(one(cap, T.cert, 'mail-prod-certificate')).spec.secretName as string;
    for (const role of ROLES) {
      const config = members.find((m) => m.role === role)!.config as Record<string, unknown> & { tls?: { certFile: string; keyFile: string } };
      const files = [
        config.tls?.certFile,
        config.tls?.keyFile,
        config.clusterTokenFile as string | undefined,
        config.adminTokenFile as string | undefined,
        (config.filters as { dkim?: { keyFile: string } } | undefined)?.dkim?.keyFile,
        // The cluster-internal CA on every member; the hub's certificate from it on hubs only.
        ...Object.values((config.clusterTls as Record<string, string> | undefined) ?? {}),
        // The CA's key on hubs only (they sign the members' own certificates).
        config.clusterCaKeyFile as string | undefined,
      ].filter((f): f is string => !!f);
      const spec = podSpec(cap, role);
      const provided = new Map<string, { secret: string; key: string }>();
      for (const mount of spec.containers[0].volumeMounts) {
        const vol = spec.volumes.find((v: { name: string }) => v.name === mount.name);
        for (const src of vol.projected?.sources ?? []) {
          for (const item of src.secret.items) provided.set(posix.join(mount.mountPath, item.path), { secret: src.secret.name, key: item.key });
        }
      }
      expect([...provided.keys()].sort(), role).toEqual([...files].sort());
      for (const [file, { secret, key }] of provided) {
        if (secret === certSecret) continue; // written by cert-manager (tls.crt / tls.key)
        expect(secrets.get(secret)?.stringData?.[key], `${role}: ${file}`).toBeTruthy();
      }
    }
    // Least privilege: the admin token only on hubs, the DKIM key only on gateways.
    const keysOf = (role: Role) => JSON.stringify(podSpec(cap, role).volumes);
    expect(keysOf('hub')).toContain('admin-token');
    for (const role of ['node', 'gateway', 'proxy'] as const) expect(keysOf(role)).not.toContain('admin-token');
    expect(keysOf('gateway')).toContain('dkim.key');
    for (const role of ['hub', 'node', 'proxy'] as const) expect(keysOf(role)).not.toContain('dkim.key');
    // The cluster-internal CA everywhere (members verify each other by it); each role's key from it on that role only, none on proxies.
    for (const role of ROLES) expect(keysOf(role)).toContain('"ca.crt"');
    for (const own of ['hub', 'node', 'gateway'] as const) {
      expect(keysOf(own)).toContain(`"${own}.key"`);
      for (const role of ROLES.filter((r) => r !== own)) expect(keysOf(role)).not.toContain(`${own}.key`);
    }
    // The CA key signs member certificates on the hubs and is projected nowhere else.
    expect(keysOf('hub')).toContain('"ca.key"');
    for (const role of ['node', 'gateway', 'proxy'] as const) expect(keysOf(role)).not.toContain('ca.key');
  });

  it('keeps secret values in Secrets only (secret Outputs, never in ConfigMaps, env or any other object)', () => {
    const secretObjects = ofType(cap, T.secret);
    const values: string[] = [];
    for (const s of secretObjects) {
      expect(isSecretValue(s.inputs.stringData), s.name).toBe(true);
      values.push(...Object.values(unwrapSecrets(s.inputs.stringData) as Record<string, string>));
    }
    expect(values.length).toBe(11); // admin token, cluster token, DKIM key, internal CA and its key, hub, node and gateway certificates and keys
    for (const v of values) expect(v.length).toBeGreaterThan(20);
    for (const r of kubeObjects(cap).filter((o) => o.type !== T.secret)) {
      expect(secretPaths(r.inputs), r.name).toEqual([]);
      const text = JSON.stringify(unwrapSecrets(r.inputs));
      for (const v of values) expect(text.includes(v), `${r.type} ${r.name} leaks a secret`).toBe(false);
    }
    for (const role of ROLES) {
      for (const e of container(cap, role).env) expect(e.name).not.toMatch(/TOKEN$|KEY$|PASSWORD/);
    }
    expect(isSecretValue(cap.outputs.adminToken)).toBe(true);
  });

  it('asks cert-manager for the certificate the pods mount', () => {
    const cert = plain(one(cap, T.cert, 'mail-prod-certificate'));
    expect(cert.apiVersion).toBe('cert-manager.io/v1');
    expect(cert.spec.issuerRef).toEqual({ name: 'letsencrypt-prod', kind: 'ClusterIssuer', group: 'cert-manager.io' });
    expect(cert.spec.dnsNames).toEqual(['mail.example.com']);
    const tlsVolume = podSpec(cap, 'proxy').volumes.find((v: { name: string }) => v.name === 'secret-tls');
    expect(tlsVolume.projected.sources[0].secret.name).toBe(cert.spec.secretName);
  });

  it('shares one ReadWriteMany claim of the spec\'s storage class, protected in production', () => {
    const pvcRes = one(cap, T.pvc, 'mail-prod-storage-pvc');
    const pvc = plain(pvcRes);
    expect(pvc.spec.accessModes).toEqual(['ReadWriteMany']);
    expect(pvc.spec.storageClassName).toBe('cephfs');
    expect(pvc.spec.resources.requests.storage).toBe('12000Gi');
    expect(pvc.metadata.annotations['mailfleet.io/backup-schedule']).toBe('0 2 * * *');
    expect(pvcRes.options.protect).toBe(true);
    for (const role of ROLES) {
      const spec = podSpec(cap, role);
      expect(spec.volumes.find((v: { name: string }) => v.name === 'storage').persistentVolumeClaim.claimName).toBe(pvc.metadata.name);
      expect(spec.containers[0].volumeMounts.find((v: { name: string }) => v.name === 'storage').mountPath).toBe('/var/lib/mailfleet');
    }
    expect(cap.outputs.storage).toBe('pvc mail-prod-storage (cephfs, 12000Gi, ReadWriteMany)');
  });

  it('exposes client ports on public Services (SMTP → gateways, the rest → proxies), never the hub API', () => {
    const smtp = plain(one(cap, T.svc, 'mail-prod-lb-smtp'));
    const clients = plain(one(cap, T.svc, 'mail-prod-lb-clients'));
    expect(smtp.spec.selector['app.kubernetes.io/component']).toBe('gateway');
    expect(clients.spec.selector['app.kubernetes.io/component']).toBe('proxy');
    expect(smtp.spec.ports).toEqual([{ name: 'smtp', port: 25, targetPort: 'smtp', protocol: 'TCP' }]);
    const clientPorts = clients.spec.ports.map((p: { port: number }) => p.port).sort((a: number, b: number) => a - b);
    // Every listener the rendered proxy config has (render.ts decides; 995 arrives when proxies serve POP3S).
    expect(clientPorts).toEqual(proxyListenPorts());
    expect(clientPorts).toEqual(expect.arrayContaining([110, 143, 465, 587, 993]));
    for (const svc of [smtp, clients]) {
      expect(svc.spec.type).toBe('LoadBalancer');
      expect(svc.spec.externalTrafficPolicy).toBe('Local');
      expect(svc.metadata.annotations).toEqual({ 'metallb.universe.tf/address-pool': 'mail' });
      for (const p of svc.spec.ports) expect([443, 9090]).not.toContain(p.port);
      // Named target ports exist on the selected pods.
      const role = svc.spec.selector['app.kubernetes.io/component'] as Role;
      const names = container(cap, role).ports.map((p: { name: string }) => p.name);
      for (const p of svc.spec.ports) expect(names).toContain(p.targetPort);
    }
    expect(ofType(cap, T.svc).filter((s) => plain(s).spec.selector['app.kubernetes.io/component'] === 'hub' && plain(s).spec.type !== undefined && plain(s).spec.type !== 'ClusterIP')).toEqual([]);
    const endpoints = cap.outputs.endpoints as Record<string, string>;
    expect(endpoints.imaps).toMatch(/^203\.0\.113\.\d+:993$/);
    expect(endpoints.smtp).toMatch(/:25$/);
  });

  it('allows only the flows the roles need (NetworkPolicies)', () => {
    const policy = (role: Role) => plain(one(cap, T.netpol, `mail-prod-${role}-netpol`)).spec;
    const comp = (peer: { podSelector?: { matchLabels?: Record<string, string> } }) => peer.podSelector?.matchLabels?.['app.kubernetes.io/component'];
    const portsOf = (rules: { ports: { port: number }[] }[]) => rules.flatMap((r) => r.ports.map((p) => p.port)).sort((a, b) => a - b);
    for (const role of ROLES) {
      const p = policy(role);
      expect(p.policyTypes).toEqual(['Ingress', 'Egress']);
      expect(p.podSelector.matchLabels['app.kubernetes.io/component']).toBe(role);
      // DNS for everyone; management only from hubs.
      expect(p.egress).toContainEqual({ ports: [{ protocol: 'UDP', port: 53 }, { protocol: 'TCP', port: 53 }] });
      const mgmt = p.ingress.filter((r: { ports: { port: number }[] }) => r.ports.some((x) => x.port === 9090));
      expect(mgmt).toHaveLength(1);
      expect(mgmt[0].from.map(comp)).toEqual(['hub']);
      if (role !== 'hub') expect(p.egress).toContainEqual({ to: [{ podSelector: { matchLabels: expect.objectContaining({ 'app.kubernetes.io/component': 'hub' }) } }], ports: [{ protocol: 'TCP', port: 443 }] });
    }
    const node = policy('node');
    const fromGateways = node.ingress.filter((r: { from?: unknown[] }) => r.from?.some((f) => comp(f as never) === 'gateway'));
    expect(portsOf(fromGateways)).toEqual([24]);
    const fromProxies = node.ingress.filter((r: { from?: unknown[] }) => r.from?.some((f) => comp(f as never) === 'proxy'));
    expect(portsOf(fromProxies)).toEqual([110, 143, 465, 587, 993, 995]);
    // Nothing reaches a node from outside the cluster's roles.
    expect(node.ingress.every((r: { from?: unknown[] }) => r.from && r.from.length > 0)).toBe(true);

    const gw = policy('gateway');
    expect(gw.ingress).toContainEqual({ ports: [{ protocol: 'TCP', port: 25 }] });
    expect(gw.egress).toContainEqual({ to: [{ ipBlock: { cidr: '0.0.0.0/0' } }, { ipBlock: { cidr: '::/0' } }], ports: [{ protocol: 'TCP', port: 25 }] });
    // The scanners the example deploys beside the gateways: their pods only (an operator's own: appliances.test.ts).
    expect(gw.egress).toContainEqual({ to: [{ podSelector: { matchLabels: { 'app.kubernetes.io/name': 'clamav', 'app.kubernetes.io/instance': 'mail-prod', 'app.kubernetes.io/component': 'clamd-0' } } }], ports: [{ protocol: 'TCP', port: 3310 }] });
    expect(gw.egress).toContainEqual({ to: [{ podSelector: { matchLabels: { 'app.kubernetes.io/name': 'rspamd', 'app.kubernetes.io/instance': 'mail-prod', 'app.kubernetes.io/component': 'rspamd-0' } } }], ports: [{ protocol: 'TCP', port: 11333 }] });

    const proxy = policy('proxy');
    expect(portsOf(proxy.ingress.filter((r: { from?: unknown[] }) => !r.from))).toEqual(proxyListenPorts());
    expect(proxy.egress.find((r: { to?: unknown[] }) => r.to?.some((t) => comp(t as never) === 'node')).ports.map((p: { port: number }) => p.port)).not.toContain(24);

    // The hub API: every member of this cluster, never the world (admin.public is false).
    const hub = policy('hub');
    const api = hub.ingress.filter((r: { ports: { port: number }[] }) => r.ports.some((x) => x.port === 443));
    expect(api).toHaveLength(1);
    expect(api[0].from).toEqual([{ podSelector: { matchLabels: { 'app.kubernetes.io/name': 'mailfleet', 'app.kubernetes.io/instance': 'mail-prod' } } }]);
    expect(hub.egress).toContainEqual({ to: [{ podSelector: { matchLabels: { 'app.kubernetes.io/name': 'mailfleet', 'app.kubernetes.io/instance': 'mail-prod' } } }], ports: [{ protocol: 'TCP', port: 9090 }] });
  });
});

describe('kubernetes adapter: variants', () => {
  it('scaling nodes 3 → 4 keeps every URN and pod template, adds a replica and its config', async () => {
    const scaled = await build(withSpec((s) => ((s.nodes as { count: number }).count = 4)));
    expect(scaled.duplicates).toEqual([]);
    expect(scaled.resources.map((r) => r.urn).sort()).toEqual(cap.resources.map((r) => r.urn).sort());
    const before = plain(one(cap, T.sts, WORKLOAD_NAME.node));
    const after = plain(one(scaled, T.sts, WORKLOAD_NAME.node));
    expect(after.spec.replicas).toBe(4);
    // Same pod template: existing pods are not restarted by a scale-out.
    expect(after.spec.template).toEqual(before.spec.template);
    expect(after.spec.template.metadata.annotations[CONFIG_HASH_ANNOTATION]).toMatch(/^[0-9a-f]{64}$/);
    const cm = plain(one(scaled, T.cm, 'mail-prod-node-config'));
    expect(Object.keys(cm.data).sort()).toEqual(['mail-prod-node-0.json', 'mail-prod-node-1.json', 'mail-prod-node-2.json', 'mail-prod-node-3.json']);
    expect(parseRuntimeConfig(JSON.parse(cm.data['mail-prod-node-3.json'])).memberId).toBe('mail-prod-node-3');
    expectSchemaValid(scaled);
  });

  it('a config change (not a scale) changes the pod template, so pods roll', async () => {
    const changed = await build(withSpec((s) => (s.hostname = 'mx.example.com')));
    const before = plain(one(cap, T.sts, WORKLOAD_NAME.node)).spec.template.metadata.annotations[CONFIG_HASH_ANNOTATION];
    const after = plain(one(changed, T.sts, WORKLOAD_NAME.node)).spec.template.metadata.annotations[CONFIG_HASH_ANNOTATION];
    expect(after).not.toBe(before);
  });

  it('nfs storage: a Retain NFS PersistentVolume and a claim bound to it', async () => {
    const nfs = await build(withSpec((s) => (s.storage = { kind: 'nfs', server: '10.0.0.5', path: '/export/mail', sizeGiB: 2000 })));
    expect(nfs.duplicates).toEqual([]);
    const pv = plain(one(nfs, T.pv, 'mail-prod-storage-pv'));
    const pvc = plain(one(nfs, T.pvc, 'mail-prod-storage-pvc'));
    expect(pv.spec).toMatchObject({
      accessModes: ['ReadWriteMany'],
      persistentVolumeReclaimPolicy: 'Retain',
      storageClassName: '',
      nfs: { server: '10.0.0.5', path: '/export/mail' },
      capacity: { storage: '2000Gi' },
      claimRef: { namespace: 'mail-prod', name: pvc.metadata.name },
    });
    expect(pv.spec.mountOptions).toEqual(['nfsvers=4', 'hard', 'timeo=600', 'retrans=2', 'noatime']);
    expect(pv.metadata.namespace).toBeUndefined();
    expect(pvc.spec).toMatchObject({ accessModes: ['ReadWriteMany'], storageClassName: '', volumeName: pv.metadata.name });
    expect(nfs.outputs.storage).toMatch(/^nfs 10\.0\.0\.5:\/export\/mail/);
    expectSchemaValid(nfs);
  });

  it('self-signed TLS: a kubernetes.io/tls Secret from secret Outputs, no Certificate', async () => {
    const ss = await build(withSpec((s) => (s.tls = { mode: 'self-signed' })));
    expect(ofType(ss, T.cert)).toHaveLength(0);
    const tlsRes = one(ss, T.secret, 'mail-prod-tls');
    expect(isSecretValue(tlsRes.inputs.stringData)).toBe(true);
    const tls = plain(tlsRes);
    expect(tls.type).toBe('kubernetes.io/tls');
    expect(Object.keys(tls.stringData).sort()).toEqual(['tls.crt', 'tls.key']);
    expect(tls.stringData['tls.key']).toContain('PRIVATE KEY');
    const mounted = podSpec(ss, 'hub').volumes.find((v: { name: string }) => v.name === 'secret-tls');
    expect(mounted.projected.sources[0].secret.name).toBe(tls.metadata.name);
    expectSchemaValid(ss);
  });

  it('provided TLS: the private key from the secret input lands only in the TLS Secret', async () => {
    const key = '-----BEGIN PRIVATE KEY-----\nprovided-key-material-1234567890\n-----END PRIVATE KEY-----\n';
    const pr = await build(
      withSpec((s) => (s.tls = { mode: 'provided', certificatePem: '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n' })),
      { tlsPrivateKey: key },
    );
    expect(plain(one(pr, T.secret, 'mail-prod-tls')).stringData['tls.key']).toBe(key);
    for (const r of kubeObjects(pr).filter((o) => o.type !== T.secret)) expect(JSON.stringify(unwrapSecrets(r.inputs))).not.toContain('provided-key-material');
    expectSchemaValid(pr);
  });

  it('platform.context: an explicit provider that every Kubernetes object uses', async () => {
    const ctx = await build(withSpec((s) => ((s.platform as Record<string, unknown>).context = 'prod-fra1')));
    const providers = ofType(ctx, T.provider);
    expect(providers).toHaveLength(1);
    expect(providers[0]!.inputs.context).toBe('prod-fra1');
    for (const r of kubeObjects(ctx)) expect(r.options.provider, r.name).toMatch(new RegExp(`^${providers[0]!.urn.replace(/[$]/g, '\\$')}::`));
  });

  it('NodePort with labels: fixed node ports, operator labels on objects but not in selectors', async () => {
    const np = await build(
      withSpec((s) => {
        Object.assign(s.platform as Record<string, unknown>, { serviceType: 'NodePort', labels: { team: 'messaging' } });
      }),
    );
    const clients = plain(one(np, T.svc, 'mail-prod-lb-clients'));
    expect(clients.spec.type).toBe('NodePort');
    expect(clients.spec.ports.find((p: { name: string }) => p.name === 'imaps').nodePort).toBe(30993);
    expect(plain(one(np, T.svc, 'mail-prod-lb-smtp')).spec.ports[0].nodePort).toBe(30025);
    expect((np.outputs.endpoints as Record<string, string>).imap).toBe('mail.example.com:30143');
    const sts = plain(one(np, T.sts, WORKLOAD_NAME.node));
    expect(sts.metadata.labels.team).toBe('messaging');
    expect(sts.spec.template.metadata.labels.team).toBe('messaging');
    expect(sts.spec.selector.matchLabels.team).toBeUndefined();
    expectSchemaValid(np);
  });

  it('admin.public: a separate admin Service for the hubs, limited to allowedCidrs', async () => {
    const pub = await build(withSpec((s) => (s.admin = { public: true, allowedCidrs: ['198.51.100.0/24'] })));
    const admin = plain(one(pub, T.svc, 'mail-prod-lb-admin'));
    expect(admin.spec.selector['app.kubernetes.io/component']).toBe('hub');
    expect(admin.spec.ports.map((p: { port: number }) => p.port)).toEqual([443]);
    expect(admin.spec.loadBalancerSourceRanges).toEqual(['198.51.100.0/24']);
    const hub = plain(one(pub, T.netpol, 'mail-prod-hub-netpol')).spec;
    expect(hub.ingress).toContainEqual({ ports: [{ protocol: 'TCP', port: 443 }] });
    expectSchemaValid(pub);
  });
});

/** Builds a cluster from a patched example; returns the error thrown and what was registered. */
async function attempt(patch: (s: Record<string, unknown>) => void) {
  const spec = structuredClone(exampleSpec()) as unknown as Record<string, unknown>;
  patch(spec);
  let error: unknown;
  const cap = await run(() => {
    try {
      new MailCluster('bad', { spec: spec as unknown as ClusterSpecInput });
    } catch (err) {
      error = err;
    }
  });
  return { error, cap };
}

const platform = (s: Record<string, unknown>) => s.platform as Record<string, unknown>;

describe('kubernetes adapter: bad platform args fail before any Kubernetes object exists', () => {
  it.each([
    ['a cluster name too long for StatefulSet names', (s: Record<string, unknown>) => { s.name = `m${'a'.repeat(40)}`; platform(s).namespace = 'mail'; }, /name: at most 40 characters/],
    ['a cluster name that is not a DNS-1035 label', (s: Record<string, unknown>) => { s.name = '1mail'; }, /name: must start with a letter on kubernetes/],
    ['a label key that Kubernetes rejects', (s: Record<string, unknown>) => { platform(s).labels = { 'bad key!': 'x' }; }, /platform\.labels\["bad key!"\]: is not a label key/],
    ['a label value that Kubernetes rejects', (s: Record<string, unknown>) => { platform(s).labels = { team: 'has spaces' }; }, /platform\.labels\.team: must be a label value: at most 63/],
    ['a label mailfleet selects pods by', (s: Record<string, unknown>) => { platform(s).labels = { 'app.kubernetes.io/instance': 'other' }; }, /platform\.labels\["app\.kubernetes\.io\/instance"\]: is set by mailfleet/],
    ['a spread key that is no label key', (s: Record<string, unknown>) => { platform(s).spreadKeys = ['kubernetes.io/hostname', 'not a key']; }, /platform\.spreadKeys\[1\]/],
    ['a spread key listed twice', (s: Record<string, unknown>) => { platform(s).spreadKeys = ['kubernetes.io/hostname', 'kubernetes.io/hostname']; }, /platform\.spreadKeys\[1\]: spread key "kubernetes\.io\/hostname" is listed twice/],
    ['loadBalancerIP with NodePort', (s: Record<string, unknown>) => { platform(s).serviceType = 'NodePort'; (s.loadBalancer as Record<string, unknown>).loadBalancerIP = '192.0.2.1'; }, /loadBalancer\.loadBalancerIP: only applies to platform\.serviceType LoadBalancer/],
    ['an annotation key that Kubernetes rejects', (s: Record<string, unknown>) => { (s.loadBalancer as Record<string, unknown>).annotations = { '/nope': 'x' }; }, /loadBalancer\.annotations\["\/nope"\]: is not an annotation key/],
  ])('rejects %s', async (_what, patch, message) => {
    const { error, cap } = await attempt(patch);
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).message).toMatch(message);
    expect(kubeObjects(cap)).toEqual([]);
  });

  it('accepts a 40-character name with its default namespace (control for the limit)', async () => {
    const { error, cap } = await attempt((s) => {
      s.name = `m${'a'.repeat(39)}`;
      delete platform(s).namespace;
    });
    expect(error).toBeUndefined();
    expect(kubeObjects(cap).find((r) => r.type === 'kubernetes:core/v1:Namespace')?.inputs.metadata).toMatchObject({ name: `mailfleet-m${'a'.repeat(39)}` });
  });
});
