import { chown } from 'node:fs/promises';
import { afterAll, beforeAll } from 'vitest';
import { createDockerProvider } from '../../src/providers/docker/index.js';
import { testProviderContract } from '../../src/testing/index.js';
import {
  DOCKER_ENABLED,
  startSocketProxy,
  TEST_IMAGE,
  type SocketProxy,
} from '../helpers/docker.js';

/** The engine reached only over tcp://127.0.0.1:PORT (a loopback proxy to its socket). */
let proxy: SocketProxy | undefined;
beforeAll(async () => {
  if (DOCKER_ENABLED) proxy = await startSocketProxy();
});
afterAll(async () => {
  await proxy?.close();
});

testProviderContract({
  // Called in the suite's own beforeAll, after the proxy above is listening.
  createProvider: () => createDockerProvider({ host: proxy?.url ?? 'tcp://127.0.0.1:1' }),
  enabled: DOCKER_ENABLED,
  label: 'docker over tcp://',
  spec: { options: { image: TEST_IMAGE } },
  setupWorkdir: async (workdir) => {
    if (process.getuid?.() === 0) await chown(workdir, 65_534, 65_534);
  },
});
