import type { Capabilities } from '../../provider.js';

/** The provider's name (also the `provider` field of specs that ask for it). */
export const DOCKER_PROVIDER_NAME = 'docker';

/** What a docker instance enforces; kept apart so a lazily loaded provider can show it. */
export const DOCKER_CAPABILITIES: Capabilities = {
  isolation: 2,
  filesystem: true,
  network: true,
  limits: ['memoryBytes', 'pids', 'cpus'],
  seccomp: true,
  tty: true,
  killsTree: true,
};
