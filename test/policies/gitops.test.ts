import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import YAML from 'yaml';
import { describe, expect, it } from 'vitest';
import { loadPolicyConfig } from '../../cli/preview/policy-gate';

/** The GitOps examples parse and wire the gates in the documented order. */

const root = join(__dirname, '..', '..');
const load = (file: string) => {
  const doc = YAML.parseDocument(readFileSync(join(root, file), 'utf8'));
  expect(doc.errors.map((e) => e.message)).toEqual([]);
  return doc.toJS() as Record<string, any>;
};
type Step = { name?: string; uses?: string; run?: string; with?: Record<string, unknown>; env?: Record<string, string>; if?: string };

describe('examples/ci/github-actions.yml', () => {
  const wf = load('examples/ci/github-actions.yml');
  const jobs = wf.jobs as Record<string, { needs?: string | string[]; if?: string; steps: Step[]; environment?: string; permissions?: Record<string, string> }>;
  const runs = (job: string) => jobs[job]!.steps.map((s) => s.run ?? '').join('\n');
  const pulumiStep = (job: string) => jobs[job]!.steps.find((s) => s.uses?.startsWith('pulumi/actions@'))!;

  it('runs on pull requests and on pushes to main', () => {
    expect(wf.on.pull_request.branches).toEqual(['main']);
    expect(wf.on.push.branches).toEqual(['main']);
    expect(Object.keys(jobs)).toEqual(['test', 'policy-gate', 'preview', 'deploy']);
  });

  it('test: npm ci then npm test', () => {
    const r = runs('test');
    expect(r).toContain('npm ci');
    expect(r.indexOf('npm test')).toBeGreaterThan(r.indexOf('npm ci'));
  });

  it('policy-gate: the offline preview with --json after the tests', () => {
    expect(jobs['policy-gate']!.needs).toBe('test');
    expect(runs('policy-gate')).toMatch(/npm run --silent preview -- --stack "\$STACK" --json/);
  });

  it('preview: pulumi preview with the policy pack, commented on the PR, pull requests only', () => {
    expect(jobs.preview!.if).toBe("github.event_name == 'pull_request'");
    expect(jobs.preview!.needs).toBe('policy-gate');
    expect(jobs.preview!.permissions?.['pull-requests']).toBe('write');
    const step = pulumiStep('preview');
    expect(step.with).toMatchObject({ command: 'preview', policyPacks: 'policies', 'comment-on-pr': true });
    expect(step.env?.PULUMI_ACCESS_TOKEN).toContain('secrets.PULUMI_ACCESS_TOKEN');
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

  it('has test → gate → preview → deploy with the same gates', () => {
    expect(ci.stages).toEqual(['test', 'gate', 'preview', 'deploy']);
    expect(ci.test.script.join('\n')).toContain('npm test');
    expect(ci['policy-gate'].needs).toEqual(['test']);
    expect(ci['policy-gate'].script.join('\n')).toMatch(/npm run --silent preview -- --stack "\$STACK" --json/);
    expect(ci.preview.script.join('\n')).toContain('pulumi preview --policy-pack policies');
    expect(ci.preview.rules[0].if).toContain('merge_request_event');
    expect(ci.deploy.script.join('\n')).toContain('pulumi up --yes --refresh --policy-pack policies');
    expect(ci.deploy.rules[0]).toMatchObject({ if: '$CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH', when: 'manual' });
  });
});

describe('policies/config/*.json', () => {
  for (const f of readdirSync(join(root, 'policies', 'config'))) {
    it(`${f} is a valid policy config for the pack`, () => {
      expect(Object.keys(loadPolicyConfig(join(root, 'policies', 'config', f))).length).toBeGreaterThan(0);
    });
  }
});
