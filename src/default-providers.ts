import { lazyProvider } from './lazy-provider.js';
import type { Provider } from './provider.js';
import { createBwrapProvider } from './providers/bwrap/index.js';
import { DOCKER_CAPABILITIES, DOCKER_PROVIDER_NAME } from './providers/docker/capabilities.js';
import { createNoopProvider } from './providers/noop/index.js';
import { createScriptdirProvider } from './providers/scriptdir/index.js';

/** The built-in providers, each with its default options; docker loads when first used. */
export function createDefaultProviders(): Provider[] {
  return [
    createNoopProvider(),
    createScriptdirProvider(),
    createBwrapProvider(),
    lazyProvider(DOCKER_PROVIDER_NAME, DOCKER_CAPABILITIES, async () =>
      (await import('./providers/docker/index.js')).createDockerProvider(),
    ),
  ];
}
