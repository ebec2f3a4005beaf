import { describe, expect, it } from 'vitest';
import { createDefaultProviders } from '../../../src/default-providers.js';
import { Manager } from '../../../src/manager/manager.js';
import { DOCKER_PROVIDER_NAME } from '../../../src/providers/docker/index.js';
import { BWRAP_ENABLED } from '../../helpers/backends.js';
import { DOCKER_ENABLED } from '../../helpers/docker.js';

describe('docker among the default providers', () => {
  it('is registered with isolation below bwrap', () => {
    const providers = createDefaultProviders();
    const docker = providers.find((p) => p.name === DOCKER_PROVIDER_NAME);
    const bwrap = providers.find((p) => p.name === 'bwrap');
    expect(docker?.capabilities.isolation).toBe(2);
    expect(bwrap?.capabilities.isolation).toBeGreaterThan(docker?.capabilities.isolation ?? 0);
  });

  it.runIf(BWRAP_ENABLED && DOCKER_ENABLED)('lets auto prefer bwrap, then docker', async () => {
    await using manager = new Manager({
      providers: createDefaultProviders(),
      cleanupOnSignal: false,
    });
    expect((await manager.select('auto')).provider.name).toBe('bwrap');
    manager.unregister('bwrap');
    expect((await manager.select('auto')).provider.name).toBe(DOCKER_PROVIDER_NAME);
  });
});
