import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { execForm, lintDockerfile, parseDockerfile } from './lint';

const root = join(__dirname, '..', '..');
const dockerfile = readFileSync(join(root, 'Dockerfile'), 'utf8');
const dockerignore = readFileSync(join(root, '.dockerignore'), 'utf8')
  .split('\n')
  .map((l) => l.trim())
  .filter((l) => l && !l.startsWith('#'));

describe('Dockerfile', () => {
  it('passes every project rule', () => {
    expect(lintDockerfile(dockerfile)).toEqual([]);
  });

  it('is multi-stage and pins the same exact base (version + digest) in every stage', () => {
    const { stages } = parseDockerfile(dockerfile);
    expect(stages.length).toBeGreaterThanOrEqual(2);
    const bases = new Set(stages.map((s) => s.image));
    expect(bases.size).toBe(1);
    expect([...bases][0]).toMatch(/^node:20\.\d+\.\d+-bookworm-slim@sha256:[0-9a-f]{64}$/);
  });

  it('runs as the unprivileged uid 1000, numerically (Kubernetes runAsNonRoot can verify it)', () => {
    const final = parseDockerfile(dockerfile).stages.at(-1)!;
    expect(final.instructions.filter((i) => i.keyword === 'USER').map((i) => i.args)).toEqual(['1000:1000']);
  });

  it('the HEALTHCHECK command is valid JavaScript that node can run', () => {
    const hc = parseDockerfile(dockerfile).stages.at(-1)!.instructions.find((i) => i.keyword === 'HEALTHCHECK')!;
    const cmd = execForm(hc.args.slice(hc.args.indexOf('CMD') + 3))!;
    expect(cmd.slice(0, 2)).toEqual(['node', '-e']);
    // Compiles (syntax only; it is not run here).
    expect(() => new Function('require', 'process', cmd[2]!)).not.toThrow();
  });

  it('every COPY source exists in the repository and is not excluded by .dockerignore', () => {
    const final = parseDockerfile(dockerfile).stages;
    const sources = final
      .flatMap((s) => s.instructions)
      .filter((i) => i.keyword === 'COPY' && !/--from=/.test(i.args))
      .flatMap((i) => i.args.replace(/--\S+\s+/g, '').trim().split(/\s+/).slice(0, -1));
    expect(sources.length).toBeGreaterThan(3);
    for (const src of sources) {
      expect(existsSync(join(root, src)), src).toBe(true);
      expect(dockerignore, src).not.toContain(src);
    }
  });

  it('builds the dashboard in its own stage and copies only the page to where the hub looks for it (a deployed hub serves /dashboard/, no 503)', () => {
    const { stages } = parseDockerfile(dockerfile);
    const build = stages.find((st) => st.instructions.some((i) => i.keyword === 'RUN' && /vite(\.js)? build --config dashboard\/vite\.config\.mts/.test(i.args)));
    expect(build, 'a stage that runs the dashboard build').toBeDefined();
    const runtime = stages.at(-1)!;
    expect(runtime).not.toBe(build);
    const workdir = runtime.instructions.filter((i) => i.keyword === 'WORKDIR').at(-1)!.args;
    const copies = runtime.instructions.filter((i) => i.keyword === 'COPY').map((i) => i.args);
    const page = copies.find((a) => a.includes('/dashboard/dist'));
    expect(page).toMatch(/^--from=\S+ \/app\/dashboard\/dist \.\/dashboard\/dist$/);
    // static.ts walks up from mail-runtime/hub/api to <root>/dashboard/dist: the runtime copies mail-runtime to the same root.
    expect(copies).toContain('mail-runtime ./mail-runtime');
    expect(workdir).toBe('/app');
    expect(readFileSync(join(root, 'mail-runtime', 'hub', 'api', 'static.ts'), 'utf8')).toContain("join(dir, 'dashboard', 'dist')");
    // A host build never reaches the context; the stage builds its own.
    expect(dockerignore).toContain('dashboard/dist');
  });

  it('.dockerignore keeps secrets, state, git and host node_modules out of the context', () => {
    for (const p of ['**/.git', '**/node_modules', '.mailfleet', '**/*.pem', '**/*.key', '**/.env', 'test', 'Pulumi.*.yaml']) {
      expect(dockerignore).toContain(p);
    }
  });
});

describe('lintDockerfile catches what it must (each rule can fail)', () => {
  const good = dockerfile;
  it.each<[string, (s: string) => string, RegExp]>([
    ['latest tag', (s) => s.replace(/^ARG NODE_IMAGE=.*$/m, 'ARG NODE_IMAGE=node:latest'), /latest or no tag/],
    ['tag without digest', (s) => s.replace(/@sha256:[0-9a-f]{64}/, ''), /not pinned/],
    ['floating major tag', (s) => s.replace(/^(ARG NODE_IMAGE=)node:20\.\d+\.\d+-bookworm-slim/m, '$1node:20-bookworm-slim'), /not pinned/],
    ['root user', (s) => s.replace('USER 1000:1000', 'USER root'), /is root/],
    ['no user', (s) => s.replace('USER 1000:1000', ''), /no USER/],
    ['no healthcheck', (s) => s.replace(/HEALTHCHECK[\s\S]*?\n(?=\n)/, ''), /no HEALTHCHECK/],
    ['single stage', (s) => `FROM node:20.20.2-bookworm-slim@sha256:${'a'.repeat(64)}\n${s.slice(s.indexOf('ENV NODE_ENV=production \\'))}`, /multi-stage/],
    ['remote ADD', (s) => s.replace('COPY bin ./bin', 'ADD https://example.com/x.tgz ./bin'), /ADD of a remote URL/],
    ['npm install', (s) => s.replace('npm ci --omit=dev', 'npm install --omit=dev'), /npm install/],
    ['shell-form entrypoint', (s) => s.replace('ENTRYPOINT ["node", "/app/bin/mailfleet.js"]', 'ENTRYPOINT node /app/bin/mailfleet.js'), /ENTRYPOINT must be/],
    ['missing port', (s) => s.replace('EXPOSE 25 ', 'EXPOSE '), /EXPOSE 25 missing/],
  ])('%s', (_what, mutate, expected) => {
    const bad = mutate(good);
    expect(bad).not.toBe(good);
    const problems = lintDockerfile(bad);
    expect(problems.some((p) => expected.test(p)), problems.join('\n')).toBe(true);
  });
});
