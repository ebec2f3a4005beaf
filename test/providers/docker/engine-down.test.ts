import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { isEncageError } from '../../../src/errors.js';
import { Manager } from '../../../src/manager/manager.js';
import { createDockerProvider } from '../../../src/providers/docker/index.js';
import { TEST_IMAGE } from '../../helpers/docker.js';

const MISSING_SOCKET = 'unix:///nonexistent/docker.sock';

/** A port on which nothing listens (bound, then released). */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('docker provider without an engine', () => {
  const saved = process.env.DOCKER_HOST;
  afterEach(() => {
    if (saved === undefined) delete process.env.DOCKER_HOST;
    else process.env.DOCKER_HOST = saved;
  });

  it('reports itself unavailable, naming the socket and how to fix it', async () => {
    const availability = await createDockerProvider({ host: MISSING_SOCKET }).check();
    expect(availability.available).toBe(false);
    expect(availability.reason).toContain('/nonexistent/docker.sock');
    expect(availability.reason).toMatch(/Start dockerd/);
    expect(availability.reason).toMatch(/DOCKER_HOST/);
  });

  it('reads DOCKER_HOST when no host option is given', async () => {
    process.env.DOCKER_HOST = MISSING_SOCKET;
    const availability = await createDockerProvider().check();
    expect(availability).toMatchObject({ available: false });
    expect(availability.reason).toContain('/nonexistent/docker.sock');
  });

  it('reports a tcp address where nothing listens as connection refused', async () => {
    const url = `tcp://127.0.0.1:${await closedPort()}`;
    const availability = await createDockerProvider({ host: url }).check();
    expect(availability.available).toBe(false);
    expect(availability.reason).toContain(url);
    expect(availability.reason).toMatch(/refused/);
  });

  it('refuses unsupported DOCKER_HOST schemes with the supported ones', async () => {
    const availability = await createDockerProvider({ host: 'ssh://me@box' }).check();
    expect(availability.available).toBe(false);
    expect(availability.reason).toMatch(/unix:\/\/\/path or tcp:\/\/host:port/);
  });

  it('makes Manager.run fail with PROVIDER_UNAVAILABLE and spawn nothing', async () => {
    await using manager = new Manager({
      providers: [createDockerProvider({ host: MISSING_SOCKET })],
      cleanupOnSignal: false,
    });
    let error: unknown;
    try {
      await manager.run({ provider: 'docker', options: { image: TEST_IMAGE } }, 'true');
    } catch (caught) {
      error = caught;
    }
    expect(isEncageError(error, 'PROVIDER_UNAVAILABLE')).toBe(true);
    expect((error as Error).message).toContain('/nonexistent/docker.sock');
    expect(manager.instances()).toEqual([]);
  });

  it('refuses prepare directly with PROVIDER_UNAVAILABLE too', async () => {
    const provider = createDockerProvider({ host: MISSING_SOCKET });
    const { parseSpec } = await import('../../../src/spec.js');
    await expect(
      provider.prepare(parseSpec({ options: { image: TEST_IMAGE } }), []),
    ).rejects.toMatchObject({ code: 'PROVIDER_UNAVAILABLE' });
  });
});
