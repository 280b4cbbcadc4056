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
  // npm pack (a full tsc build) and npm install in one 10-minute beforeAll:
  // on a loaded machine, sharing the 2 cores with another file pushed it past that.
  'test/package/package.test.ts',
];

/**
 * Test files run two at a time. vitest's default in `run` mode is one worker
 * per CPU minus one — a single worker on the 2-core CI machines — but most
 * of the suite's time is spent waiting for child processes (member startup,
 * npm pack, protocol deadlines), not computing, so two files overlap well.
 * MAILFLEET_TEST_WORKERS overrides it (e.g. 1 to bisect an interaction).
 */
const WORKERS = Number(process.env.MAILFLEET_TEST_WORKERS ?? 2);
if (!Number.isInteger(WORKERS) || WORKERS < 1) throw new Error(`MAILFLEET_TEST_WORKERS must be a positive integer, got "${process.env.MAILFLEET_TEST_WORKERS}"`);

export default defineConfig({
  test: {
    // Forks with isolation: Pulumi's runtime keeps global state (mocks, config)
    // per process, so each test file gets its own (see shared/TOOLCHAIN.md).
    pool: 'forks',
    testTimeout: 30_000,
    hookTimeout: 60_000,
    projects: [
      { extends: true, test: { name: 'shared', include: ['test/**/*.test.ts'], exclude: ALONE, maxWorkers: WORKERS } },
      // maxWorkers 1 at the default group order: vitest runs these files one
      // at a time after every other group has finished.
      { extends: true, test: { name: 'alone', include: ALONE, maxWorkers: 1 } },
    ],
  },
});
