import type { Capabilities, Provider } from './provider.js';

/**
 * A provider whose module is imported on first `check()` or `prepare()`, so programs that never
 * use it (e.g. `encage run -p bwrap`) do not pay for loading it. Name and capabilities are known
 * up front, as registration and `auto` selection need them.
 */
export function lazyProvider(
  name: string,
  capabilities: Capabilities,
  load: () => Promise<Provider>,
): Provider {
  let loaded: Promise<Provider> | undefined;
  const provider = (): Promise<Provider> =>
    (loaded ??= load().then((real) => {
      if (real.name !== name)
        throw new Error(`lazy provider "${name}" loaded a provider named "${real.name}"`);
      return real;
    }));
  return {
    name,
    capabilities,
    check: async () => (await provider()).check(),
    prepare: async (spec, scripts, options) => (await provider()).prepare(spec, scripts, options),
  };
}
