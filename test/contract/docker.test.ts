import { chown } from 'node:fs/promises';
import { afterAll, expect } from 'vitest';
import { createDockerProvider } from '../../src/providers/docker/index.js';
import { testProviderContract } from '../../src/testing/index.js';
import {
  DOCKER_ENABLED,
  ownContainers,
  RUNSC_ENABLED,
  RUNSC_RUNTIME,
  TEST_IMAGE,
} from '../helpers/docker.js';

/** Run as root, the container user is nobody (65534): give it the suite's workdir. */
const NOBODY = 65_534;
const giveToNobody = async (workdir: string): Promise<void> => {
  if (process.getuid?.() === 0) await chown(workdir, NOBODY, NOBODY);
};

testProviderContract({
  createProvider: () => createDockerProvider(),
  enabled: DOCKER_ENABLED,
  label: 'docker (runc)',
  spec: { options: { image: TEST_IMAGE } },
  setupWorkdir: giveToNobody,
});

testProviderContract({
  createProvider: () => createDockerProvider(),
  enabled: RUNSC_ENABLED,
  label: 'docker (runsc)',
  spec: { options: { image: TEST_IMAGE, runtime: RUNSC_RUNTIME } },
  setupWorkdir: giveToNobody,
});

afterAll(async () => {
  if (DOCKER_ENABLED) expect(await ownContainers()).toEqual([]);
});
