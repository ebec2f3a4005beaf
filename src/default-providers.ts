import type { Provider } from './provider.js';
import { createBwrapProvider } from './providers/bwrap/index.js';
import { createDockerProvider } from './providers/docker/index.js';
import { createNoopProvider } from './providers/noop/index.js';
import { createScriptdirProvider } from './providers/scriptdir/index.js';

/** The built-in providers, each with its default options. */
export function createDefaultProviders(): Provider[] {
  return [
    createNoopProvider(),
    createScriptdirProvider(),
    createBwrapProvider(),
    createDockerProvider(),
  ];
}
