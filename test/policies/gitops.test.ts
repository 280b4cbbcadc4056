import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import YAML from 'yaml';
import { afterAll, describe, expect, it } from 'vitest';
import { loadPolicyConfig } from '../../cli/preview/policy-gate';
import { POLICY_PACK_NAME, POLICY_PACK_VERSION } from '../../policies/policies';

/** The GitOps and release pipelines parse and wire the gates, logins, pins and artifacts as documented. */

const root = join(__dirname, '..', '..');
const text = (file: string) => readFileSync(join(root, file), 'utf8');
const load = (file: string) => {
  const doc = YAML.parseDocument(text(file));
  expect(doc.errors.map((e) => e.message)).toEqual([]);
  expect(doc.warnings.map((e) => e.message)).toEqual([]);
  return doc.toJS() as Record<string, any>;
};
type Step = { name?: string; id?: string; uses?: string; run?: string; with?: Record<string, unknown>; env?: Record<string, string>; if?: string };
type Job = { needs?: string | string[]; if?: string; steps: Step[]; environment?: string; permissions?: Record<string, string>; outputs?: Record<string, string> };

/** The Pulumi SDK version the program and pack run on: the CLI must be the same release. */
const SDK_VERSION = (JSON.parse(text('package.json')) as { dependencies: Record<string, string> }).dependencies['@pulumi/pulumi']!;
const OIDC_ORG_TOKEN = 'urn:pulumi:token-type:access_token:organization';
/** A fork's pull request gets no OIDC token: the Pulumi Cloud steps run only for this repository. */
const SAME_REPO = "github.event_name == 'push' || github.event.pull_request.head.repo.full_name == github.repository";

describe('examples/ci/github-actions.yml', () => {
  const wf = load('examples/ci/github-actions.yml');
  const jobs = wf.jobs as Record<string, Job>;
  const runs = (job: string) => jobs[job]!.steps.map((s) => s.run ?? '').join('\n');
  const pulumiStep = (job: string) => jobs[job]!.steps.find((s) => s.uses?.startsWith('pulumi/actions@') && s.with?.command)!;
  const stepIndex = (job: string, pick: (s: Step) => boolean) => jobs[job]!.steps.findIndex(pick);

  it('runs on pull requests and on pushes to main', () => {
    expect(wf.on.pull_request.branches).toEqual(['main']);
    expect(wf.on.push.branches).toEqual(['main']);
    expect(Object.keys(jobs)).toEqual(['test', 'policy-gate', 'preview', 'deploy']);
    expect(wf.permissions).toEqual({ contents: 'read' });
  });

  it('test: npm ci, the Debian validators, then npm test', () => {
    const r = runs('test');
    expect(r).toContain('npm ci');
    expect(r).toMatch(/apt-get install -y --no-install-recommends haproxy keepalived cloud-init/);
    expect(r.indexOf('npm test')).toBeGreaterThan(r.indexOf('npm ci'));
  });

  it('pins the Pulumi CLI to the SDK version, through pulumi/actions@v7 everywhere', () => {
    expect(wf.env.PULUMI_VERSION).toBe(SDK_VERSION);
    const uses = Object.values(jobs).flatMap((j) => j.steps.filter((s) => s.uses?.startsWith('pulumi/actions@')));
    expect(uses.length).toBe(3);
    for (const s of uses) {
      expect(s.uses).toBe('pulumi/actions@v7');
      expect(s.with?.['pulumi-version']).toBe('${{ env.PULUMI_VERSION }}');
    }
  });

  it('logs in through OIDC: no long-lived access token anywhere', () => {
    expect(text('examples/ci/github-actions.yml')).not.toMatch(/PULUMI_ACCESS_TOKEN\s*:/);
    for (const job of ['policy-gate', 'preview', 'deploy']) {
      expect(jobs[job]!.permissions?.['id-token'], job).toBe('write');
      const login = stepIndex(job, (s) => s.uses === 'pulumi/auth-actions@v2');
      expect(login, job).toBeGreaterThan(-1);
      expect(jobs[job]!.steps[login]!.with).toEqual({ organization: '${{ vars.PULUMI_ORG }}', 'requested-token-type': OIDC_ORG_TOKEN });
      // Before the first step that needs Pulumi Cloud.
      expect(login, job).toBeLessThan(stepIndex(job, (s) => Boolean(s.with?.command) || Boolean(s.run?.includes('validate-policy-configs'))));
    }
    expect(jobs.test!.permissions).toBeUndefined();
  });

  it('policy-gate: the offline preview with --json after the tests, then validate-config for each policy config', () => {
    expect(jobs['policy-gate']!.needs).toBe('test');
    const steps = jobs['policy-gate']!.steps;
    const gate = stepIndex('policy-gate', (s) => /npm run --silent preview -- --stack "\$STACK" --json/.test(s.run ?? ''));
    const validate = stepIndex('policy-gate', (s) => s.run === 'sh examples/ci/validate-policy-configs.sh "$PULUMI_ORG"');
    expect(gate).toBeGreaterThan(-1);
    expect(validate).toBeGreaterThan(gate);
    expect(steps[validate]!.env).toEqual({ PULUMI_ORG: '${{ vars.PULUMI_ORG }}' });
    // Login, CLI and validation skip forks' pull requests; the offline gate never does.
    for (const s of steps.slice(validate - 2, validate + 1)) expect(s.if, s.name).toBe(SAME_REPO);
    expect(steps[gate]!.if).toBeUndefined();
  });

  it('preview: pulumi preview with the policy pack, commented on the PR, pull requests from this repository only', () => {
    expect(jobs.preview!.if).toBe("github.event_name == 'pull_request' && github.event.pull_request.head.repo.full_name == github.repository");
    expect(jobs.preview!.needs).toBe('policy-gate');
    expect(jobs.preview!.permissions?.['pull-requests']).toBe('write');
    const step = pulumiStep('preview');
    expect(step.with).toMatchObject({ command: 'preview', policyPacks: 'policies', 'comment-on-pr': true });
    expect(step.env).toBeUndefined();
  });

  it('deploy: pulumi up with the policy pack on pushes to main, behind an environment', () => {
    expect(jobs.deploy!.if).toBe("github.event_name == 'push' && github.ref == 'refs/heads/main'");
    expect(jobs.deploy!.needs).toBe('policy-gate');
    expect(jobs.deploy!.environment).toBe('production');
    expect(pulumiStep('deploy').with).toMatchObject({ command: 'up', policyPacks: 'policies' });
  });

  it('names a policy config that exists and is valid', () => {
    expect(() => loadPolicyConfig(join(root, wf.env.POLICY_CONFIG))).not.toThrow();
  });
});

describe('examples/ci/gitlab-ci.yml', () => {
  const ci = load('examples/ci/gitlab-ci.yml');
  const script = (job: string, key: 'script' | 'before_script' = 'script') => (ci[job][key] as string[]).join('\n');

  it('has test → gate → preview → deploy with the same gates', () => {
    expect(ci.stages).toEqual(['test', 'gate', 'preview', 'deploy']);
    expect(ci.test.script.join('\n')).toContain('npm test');
    expect(ci['policy-gate'].needs).toEqual(['test']);
    expect(ci['policy-gate'].script.join('\n')).toMatch(/npm run --silent preview -- --stack "\$STACK" --json/);
    expect(ci.preview.script.join('\n')).toContain('pulumi preview --policy-pack policies');
    expect(ci.preview.rules[0].if).toBe('$CI_PIPELINE_SOURCE == "merge_request_event" && $PULUMI_ORG');
    expect(ci.deploy.script.join('\n')).toContain('pulumi up --yes --refresh --policy-pack policies');
    expect(ci.deploy.rules[0]).toMatchObject({ if: '$CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH', when: 'manual' });
  });

  it('installs the Pulumi CLI at the SDK version and checks it', () => {
    expect(ci.variables.PULUMI_VERSION).toBe(SDK_VERSION);
    const cli = script('.pulumi', 'before_script');
    expect(cli).toContain('curl -fsSL https://get.pulumi.com | sh -s -- --version "$PULUMI_VERSION"');
    expect(cli).toContain('test "$(pulumi version)" = "v$PULUMI_VERSION"');
  });

  it('logs in with an OIDC ID token exchanged by `pulumi login --oidc-token`, no stored access token', () => {
    expect(text('examples/ci/gitlab-ci.yml')).not.toContain('PULUMI_ACCESS_TOKEN');
    const idToken = { PULUMI_OIDC_TOKEN: { aud: 'urn:pulumi:org:$PULUMI_ORG' } };
    expect(ci['.pulumi'].id_tokens).toEqual(idToken);
    expect(ci['policy-gate'].id_tokens).toEqual(idToken);
    expect(script('.pulumi', 'before_script')).toContain('pulumi login --oidc-token "$PULUMI_OIDC_TOKEN" --oidc-org "$PULUMI_ORG"');
    for (const job of ['preview', 'deploy']) {
      expect(ci[job].extends, job).toBe('.pulumi');
      expect(script(job).indexOf('pulumi stack select'), job).toBe(0);
    }
  });

  it('policy-gate: validate-config after the offline gate, skipped (not failed) without PULUMI_ORG', () => {
    const lines = ci['policy-gate'].script as string[];
    const gate = lines.findIndex((l) => l.startsWith('npm run --silent preview'));
    const skip = lines.findIndex((l) => l.includes('[ -z "${PULUMI_ORG:-}" ]') && l.includes('exit 0'));
    const login = lines.findIndex((l) => l.includes('pulumi login --oidc-token'));
    const validate = lines.indexOf('sh examples/ci/validate-policy-configs.sh "$PULUMI_ORG"');
    expect([gate, skip, login, validate].every((i) => i >= 0)).toBe(true);
    expect(gate < skip && skip < login && login < validate).toBe(true);
  });
});

describe('examples/ci/validate-policy-configs.sh (run with a stand-in pulumi CLI)', () => {
  const bin = mkdtempSync(join(tmpdir(), 'mailfleet-fake-pulumi-'));
  const log = join(bin, 'calls.log');
  // A pulumi that answers `policy ls --json` from $FAKE_PACKS and records validate-config calls.
  writeFileSync(
    join(bin, 'pulumi'),
    [
      '#!/bin/sh',
      'if [ "$1 $2" = "policy ls" ]; then printf "%s" "$FAKE_PACKS"; exit 0; fi',
      'if [ "$1 $2" = "policy validate-config" ]; then echo "$*" >> "$FAKE_LOG"; case "$6" in *"$FAKE_INVALID"*) exit 1;; esac; exit 0; fi',
      'echo "unexpected: $*" >&2; exit 2',
      '',
    ].join('\n'),
  );
  chmodSync(join(bin, 'pulumi'), 0o755);
  afterAll(() => rmSync(bin, { recursive: true, force: true }));

  const configs = readdirSync(join(root, 'policies', 'config')).filter((f) => f.endsWith('.json')).sort();
  const run = (packs: unknown, invalid = 'none') => {
    rmSync(log, { force: true });
    const r = spawnSync('sh', ['examples/ci/validate-policy-configs.sh', 'acme'], {
      cwd: root,
      encoding: 'utf8',
      timeout: 30_000,
      env: { ...process.env, PATH: `${bin}:${process.env.PATH}`, FAKE_PACKS: JSON.stringify(packs), FAKE_LOG: log, FAKE_INVALID: invalid },
    });
    const calls = existsSync(log) ? readFileSync(log, 'utf8').trim().split('\n') : [];
    return { ...r, calls };
  };

  it('validates every policies/config/*.json against the published pack at the checkout\'s version', () => {
    const r = run([{ name: POLICY_PACK_NAME, versions: ['0.0.1', POLICY_PACK_VERSION] }]);
    expect(r.status, r.stderr).toBe(0);
    expect(configs.length).toBeGreaterThan(0);
    expect(r.calls).toEqual(configs.map((f) => `policy validate-config acme/${POLICY_PACK_NAME} ${POLICY_PACK_VERSION} --config policies/config/${f}`));
  });

  it('fails when one config is invalid for the published schemas, after checking all of them', () => {
    const r = run([{ name: POLICY_PACK_NAME, versions: [POLICY_PACK_VERSION] }], configs[0]);
    expect(r.status).toBe(1);
    expect(r.calls).toHaveLength(configs.length);
  });

  it('says so and passes when this version is not published yet (the offline gate has checked the files)', () => {
    const r = run([{ name: POLICY_PACK_NAME, versions: ['0.0.1'] }, { name: 'other', versions: [POLICY_PACK_VERSION] }]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain(`Policy pack acme/${POLICY_PACK_NAME} ${POLICY_PACK_VERSION} is not published`);
    expect(r.calls).toEqual([]);
  });
});

describe('examples/ci/release-github.yml', () => {
  const wf = load('examples/ci/release-github.yml');
  const jobs = wf.jobs as Record<string, Job>;
  const step = (job: string, uses: string) => jobs[job]!.steps.find((s) => s.uses?.startsWith(`${uses}@`));
  const runs = (job: string) => jobs[job]!.steps.map((s) => s.run ?? '').join('\n');

  it('runs on version tags only: verify, then tarballs + image, then publish; the policy pack to Pulumi Cloud', () => {
    expect(wf.on).toEqual({ push: { tags: ['v[0-9]+.[0-9]+.[0-9]+'] } });
    expect(Object.keys(jobs)).toEqual(['verify', 'tarballs', 'image', 'publish', 'policy-pack']);
    expect(jobs.tarballs!.needs).toBe('verify');
    expect(jobs.image!.needs).toBe('verify');
    expect(jobs.publish!.needs).toEqual(['verify', 'tarballs', 'image']);
    expect(runs('verify')).toMatch(/"v\$version" != "\$GITHUB_REF_NAME"/);
    expect(runs('verify')).toContain('npm test');
    expect(wf.permissions).toEqual({ contents: 'read' });
  });

  it('pins every action to a full commit SHA, named by its release', () => {
    const lines = text('examples/ci/release-github.yml').split('\n').filter((l) => /^\s*(- )?uses:/.test(l));
    expect(lines.length).toBeGreaterThanOrEqual(15);
    for (const l of lines) expect(l, l).toMatch(/uses: [\w.-]+\/[\w.-]+@[0-9a-f]{40} # v\d+\.\d+\.\d+$/);
  });

  it('image: linux/amd64 and arm64 with an SBOM and max-mode provenance, an exact version tag, an attested digest', () => {
    const build = step('image', 'docker/build-push-action')!;
    expect(build.with).toMatchObject({ platforms: 'linux/amd64,linux/arm64', push: true, sbom: true, provenance: 'mode=max' });
    const order = ['docker/setup-qemu-action', 'docker/setup-buildx-action', 'docker/login-action', 'docker/metadata-action', 'docker/build-push-action'].map((u) =>
      jobs.image!.steps.findIndex((s) => s.uses?.startsWith(`${u}@`)),
    );
    expect(order.every((i, k) => i >= 0 && (k === 0 || i > order[k - 1]!))).toBe(true);
    expect(step('image', 'docker/metadata-action')!.with?.tags).toBe('type=semver,pattern={{version}}');
    expect(step('image', 'actions/attest-build-provenance')!.with).toMatchObject({ 'subject-digest': '${{ steps.build.outputs.digest }}', 'push-to-registry': true });
    expect(jobs.image!.permissions).toMatchObject({ packages: 'write', 'id-token': 'write', attestations: 'write' });
  });

  it('tarballs: npm pack of the runtime and the pack, SHA256SUMS checked, provenance attested', () => {
    const r = runs('tarballs');
    expect(r).toContain('npm pack --pack-destination dist-release');
    expect(r).toContain('(cd policies && npm pack --pack-destination ../dist-release)');
    expect(r).toContain('sha256sum -- *.tgz > SHA256SUMS');
    expect(r).toContain('sha256sum -c SHA256SUMS');
    expect(step('tarballs', 'actions/attest-build-provenance')!.with).toEqual({ 'subject-path': 'dist-release/*.tgz' });
  });

  it('publish: re-checks the hashes, npm publish --provenance of that very tarball, a release with SHA256SUMS and runtime.sha256', () => {
    const r = runs('publish');
    expect(r.indexOf('sha256sum -c SHA256SUMS')).toBeLessThan(r.indexOf('npm publish'));
    expect(r).toContain('npm publish "dist-release/mailfleet-$VERSION.tgz" --provenance --access public');
    expect(r).toMatch(/gh release create "\$GITHUB_REF_NAME" dist-release\/\*\.tgz dist-release\/SHA256SUMS/);
    expect(r).toContain('echo "  sha256: $sha"');
    expect(jobs.publish!.permissions).toEqual({ contents: 'write', 'id-token': 'write' });
  });

  it('policy-pack: OIDC login, the pinned CLI, pulumi policy publish unless that version exists', () => {
    expect(wf.env.PULUMI_VERSION).toBe(SDK_VERSION);
    expect(step('policy-pack', 'pulumi/auth-actions')!.with).toMatchObject({ 'requested-token-type': OIDC_ORG_TOKEN });
    expect(step('policy-pack', 'pulumi/actions')!.with).toEqual({ 'pulumi-version': '${{ env.PULUMI_VERSION }}' });
    expect(runs('policy-pack')).toMatch(/already published[\s\S]*else\s+pulumi policy publish "\$PULUMI_ORG"/);
  });
});

describe('docs/release.md: the GitLab release jobs', () => {
  const block = /## The same on GitLab[\s\S]*?```yaml\n([\s\S]*?)```/.exec(text('docs/release.md'))?.[1];
  const doc = YAML.parseDocument(block ?? '');
  const ci = doc.toJS() as Record<string, any>;

  it('is valid YAML with tarballs, image and release jobs on version tags', () => {
    expect(block).toBeDefined();
    expect(doc.errors.map((e) => e.message)).toEqual([]);
    expect(ci['.release-tag'].rules[0].if).toBe('$CI_COMMIT_TAG =~ /^v\\d+\\.\\d+\\.\\d+$/');
    for (const job of ['release-tarballs', 'release-image', 'release']) expect(ci[job].extends, job).toBe('.release-tag');
  });

  it('tarballs: SHA256SUMS and npm publish --provenance with a Sigstore ID token', () => {
    const s = (ci['release-tarballs'].script as string[]).join('\n');
    expect(s).toContain('sha256sum -- *.tgz > SHA256SUMS');
    expect(s).toMatch(/npm publish "dist-release\/mailfleet-\$\{CI_COMMIT_TAG#v\}\.tgz" --provenance/);
    expect(ci['release-tarballs'].id_tokens).toEqual({ SIGSTORE_ID_TOKEN: { aud: 'sigstore' } });
  });

  it('image: buildx for amd64 and arm64 with an SBOM and max-mode provenance', () => {
    const s = (ci['release-image'].script as string[]).join('\n');
    expect(s).toContain('--platform linux/amd64,linux/arm64');
    expect(s).toContain('--sbom=true --provenance=mode=max');
    expect(s).toContain('--push');
  });
});

describe('policies/config/*.json', () => {
  for (const f of readdirSync(join(root, 'policies', 'config'))) {
    it(`${f} is a valid policy config for the pack`, () => {
      expect(Object.keys(loadPolicyConfig(join(root, 'policies', 'config', f))).length).toBeGreaterThan(0);
    });
  }
});
