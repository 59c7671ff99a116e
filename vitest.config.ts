import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // Two cores: servers, apps and test files share them. Files run at most two at a time.
    pool: 'forks',
    poolOptions: { forks: { maxForks: 2, minForks: 1 } },
    projects: [
      {
        test: {
          name: 'unit',
          include: ['**/*.unit.test.ts'],
          exclude: ['**/node_modules/**'],
          testTimeout: 10_000,
        },
      },
      {
        test: {
          name: 'int',
          include: ['**/*.int.test.ts', 'test/**/*.e2e.test.ts'],
          exclude: ['**/node_modules/**'],
          globalSetup: ['test/harness/global-setup.ts'],
          // One file at a time: every file that starts the apps watches the whole (shared) cluster,
          // so two at once would reconcile each other's objects.
          poolOptions: { forks: { singleFork: true } },
          testTimeout: 60_000,
          hookTimeout: 120_000,
        },
      },
    ],
  },
});
