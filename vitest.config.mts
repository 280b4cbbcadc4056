import { defineConfig } from 'vitest/config';

// `npm test` runs test/setup/debian-packages.ts before vitest: it checks (and,
// as root, installs) the Debian packages the tests use as validators. That is
// an npm script step, not a `globalSetup` here, so a focused
// `npx vitest run test/<area>` never runs apt-get (the reasons are in that file).
// Fixtures are read from test/fixtures/ only; nothing outside the repository.

/**
 * Files whose real processes judge each other by heartbeats, silences and
 * probes (a member declared dead after a quiet spell, a frozen primary
 * fenced, a whole local cluster launched), and the one whose set-up is a
 * long CPU-bound build: they run alone, one after the other, after the
 * rest, so another test file's CPU load cannot stretch a heartbeat into a
 * false "dead" or a build past its hook's bound. Their assertions are not
 * timed; this only keeps them from racing the machine.
 */
const ALONE = [
  'test/cluster/**/*.test.ts',
  'test/failover/controller.test.ts',
  'test/proxy/proxy.test.ts',
  'test/cli/up.test.ts',
  'test/cli/admin.test.ts',
  // Floods of logins and connections against a member: CPU-bound on both sides.
  'test/node/isolation-*.test.ts',
  // npm install of the packed tarball and ts-node type checks of consumer
  // programs; its beforeAll also runs the tsc build when the checkout's dist/
  // is not current (CI's npm ci already built it): on a loaded machine, sharing
  // the 2 cores with another file pushed that build past the hook's bound.
  'test/package/package.test.ts',
];

/**
 * Test files at a time in the `shared` project: TEST_WORKERS, else 2. Most
 * of these files wait on real processes and sockets rather than compute, so
 * a second worker uses the second core of the 2-core CI machine: on an idle
 * one (2026-12-02, load ≈ 3 during the run) the shared project took 425 s
 * with two workers against ≈ 720 s with vitest's default of one (cores − 1).
 * The heartbeat-judged and CPU-flooding files stay in ALONE, one at a time
 * after the rest. (Not MAILFLEET_*: member processes the tests start reject
 * unknown MAILFLEET_* variables as typos, and they inherit the environment.)
 */
const WORKERS = process.env.TEST_WORKERS === undefined ? undefined : Number(process.env.TEST_WORKERS);
if (WORKERS !== undefined && (!Number.isInteger(WORKERS) || WORKERS < 1)) throw new Error(`TEST_WORKERS must be a positive integer, got "${process.env.TEST_WORKERS}"`);

export default defineConfig({
  test: {
    // Forks with isolation: Pulumi's runtime keeps global state (mocks, config)
    // per process, so each test file gets its own (see shared/TOOLCHAIN.md).
    pool: 'forks',
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Tests marked concurrent (files whose tests each wait on one CPU-bound
    // child process: test/cli/cli, test/stacks/program) run two at a time:
    // their waits overlap, and two keeps memory and the per-test bounds safe
    // beside the other worker's file on a loaded 2-core machine.
    maxConcurrency: 2,
    projects: [
      { extends: true, test: { name: 'shared', include: ['test/**/*.test.ts'], exclude: ALONE, maxWorkers: WORKERS ?? 2 } },
      // maxWorkers 1 at the default group order: vitest runs these files one
      // at a time after every other group has finished.
      { extends: true, test: { name: 'alone', include: ALONE, maxWorkers: 1 } },
    ],
  },
});
