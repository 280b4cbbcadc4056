import { defineConfig } from 'vitest/config';

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
