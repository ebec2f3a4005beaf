import { EncageError } from '../errors.js';
import type { Availability, Provider } from '../provider.js';

export const AUTO_PROVIDER = 'auto';

export interface Selection {
  readonly provider: Provider;
  readonly reason: string;
}

/** Picks a named provider, or for `auto` the strongest available one that isolates. */
export async function selectProvider(
  providers: ReadonlyMap<string, Provider>,
  name: string,
): Promise<Selection> {
  if (name !== AUTO_PROVIDER) {
    const provider = providers.get(name);
    if (!provider) {
      const known = [...providers.keys(), AUTO_PROVIDER].join(', ');
      throw new EncageError(
        'UNKNOWN_PROVIDER',
        `spec.provider: unknown provider "${name}". Use one of: ${known}.`,
        {
          path: 'spec.provider',
        },
      );
    }
    const availability = await provider.check();
    if (!availability.available) {
      throw new EncageError(
        'PROVIDER_UNAVAILABLE',
        `[${name}] not available: ${availability.reason}`,
        {
          path: 'spec.provider',
        },
      );
    }
    return { provider, reason: `chosen by name; ${availability.reason}` };
  }
  const isolating = [...providers.values()]
    .filter((provider) => provider.capabilities.isolation > 0)
    .sort((a, b) => b.capabilities.isolation - a.capabilities.isolation);
  // Strongest first, stopping at the first available: a weaker backend is never probed (nor
  // waited on, e.g. an unreachable DOCKER_HOST) when a stronger one works.
  const checks: [Provider, Availability][] = [];
  for (const provider of isolating) {
    const availability = await provider.check();
    if (availability.available) {
      return {
        provider,
        reason: `auto: strongest available isolating provider; ${availability.reason}`,
      };
    }
    checks.push([provider, availability]);
  }
  const why = checks.map(([p, a]) => `${p.name}: ${a.reason}`).join('; ');
  throw new EncageError(
    'PROVIDER_UNAVAILABLE',
    `auto: no isolating provider is available (${why || 'none registered'}). Install bubblewrap (apt-get install bubblewrap) or start a Docker engine; run "encage doctor" for details.`,
    { path: 'spec.provider' },
  );
}
