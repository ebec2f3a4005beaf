import { defineConfig } from 'vitest/config';

const shared = { testTimeout: 30_000, hookTimeout: 60_000 };

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          ...shared,
          name: 'unit-contract-security',
          include: ['test/**/*.test.ts'],
          exclude: ['test/reliability/**'],
          sequence: { groupOrder: 0 },
        },
      },
      {
        // Leak checks scan the whole host (processes, mounts, cgroups, containers): they run
        // after everything else, one file at a time, so no other test's sandboxes are in view.
        test: {
          ...shared,
          name: 'reliability',
          include: ['test/reliability/**/*.test.ts'],
          fileParallelism: false,
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
});
