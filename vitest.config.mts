import { defineConfig } from 'vitest/config';

// `npm test` runs test/setup/debian-packages.ts before vitest: it checks (and,
// as root, installs) the Debian packages the tests use as validators. That is
// an npm script step, not a `globalSetup` here, so a focused
// `npx vitest run test/<area>` never runs apt-get (the reasons are in that file).
// Fixtures are read from test/fixtures/ only; nothing outside the repository.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Forks with isolation: Pulumi's runtime keeps global state (mocks, config)
    // per process, so each test file gets its own (see shared/TOOLCHAIN.md).
    pool: 'forks',
    testTimeout: 30_000,
    hookTimeout: 60_000,
  },
});
