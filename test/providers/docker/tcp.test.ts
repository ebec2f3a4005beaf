import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isEncageError } from '../../../src/errors.js';
import { Manager } from '../../../src/manager/manager.js';
import { createDockerProvider } from '../../../src/providers/docker/index.js';
import { DEFAULT_PATH } from '../../../src/spec.js';
import {
  DOCKER_ENABLED,
  ownContainers,
  startSocketProxy,
  TEST_IMAGE,
  testEngine,
  type SocketProxy,
} from '../../helpers/docker.js';

describe.runIf(DOCKER_ENABLED)('docker over tcp://', () => {
  let proxy: SocketProxy;
  let manager: Manager;
  let workdir: string;
  const spec = () => ({ provider: 'docker', workdir, options: { image: TEST_IMAGE } });

  beforeAll(async () => {
    proxy = await startSocketProxy();
    manager = new Manager({
      providers: [createDockerProvider({ host: proxy.url })],
      cleanupOnSignal: false,
    });
    workdir = await mkdtemp(path.join(tmpdir(), 'encage-docker-tcp-'));
  });
  afterAll(async () => {
    await manager.close();
    await proxy.close();
    await rm(workdir, { recursive: true, force: true });
    expect(await ownContainers()).toEqual([]);
  });

  it('reports the tcp engine available and names its address', async () => {
    const availability = await manager.providers()[0]?.check();
    expect(availability?.available).toBe(true);
    expect(availability?.reason).toContain(proxy.url);
  });

  it('runs commands with their status, output and stdin through the tcp engine', async () => {
    const ok = await manager.run(spec(), 'sh', ['-c', 'cat; echo err >&2; exit 4'], {
      input: 'via tcp\n',
    });
    expect(ok).toMatchObject({ exitCode: 4, stdout: 'via tcp\n', stderr: 'err\n' });
    const env = await manager.run({ ...spec(), env: { PATH: DEFAULT_PATH, ONLY: 'x' } }, 'env');
    expect(env.stdout).toContain('ONLY=x\n');
    expect(env.stdout).not.toContain('HOSTNAME=');
  });

  it('sends both the engine calls and docker exec through the tcp address', async () => {
    const instance = await manager.prepare(spec());
    try {
      const command = instance.exec('true', [], { PATH: DEFAULT_PATH });
      expect(command.env).toEqual({ DOCKER_HOST: proxy.url, DOCKER_API_VERSION: '1.41' });
    } finally {
      await instance.teardown();
    }
    const seen = proxy.requests.join('\n');
    expect(seen).toMatch(/POST \/v1\.41\/containers\/create/);
    expect(seen).toMatch(/DELETE \/v1\.41\/containers\/encage-/);
    expect(seen).toMatch(/POST \/v[0-9.]+\/containers\/encage-[0-9a-f]+\/exec/);
  });

  it('tears down when the engine went away: reports it, still removes the host dir', async () => {
    const second = await startSocketProxy();
    const local = new Manager({
      providers: [createDockerProvider({ host: second.url })],
      cleanupOnSignal: false,
    });
    const instance = await local.prepare(spec());
    const name = `encage-${instance.id}`;
    const dir = await containerDir(name);
    expect(existsSync(dir)).toBe(true);
    await second.close();
    let error: unknown;
    try {
      await instance.teardown();
    } catch (caught) {
      error = caught;
    }
    expect(isEncageError(error, 'TEARDOWN_FAILED')).toBe(true);
    expect((error as Error).message).toContain(name);
    expect(existsSync(dir)).toBe(false);
    // The engine itself still has the container: remove it as `encage gc` would.
    await testEngine().request({
      method: 'DELETE',
      path: `/containers/${name}`,
      query: { force: true },
    });
    await local.close();
  });
});

async function containerDir(name: string): Promise<string> {
  const body = await testEngine().json<{ Config: { Labels: Record<string, string> } }>({
    path: `/containers/${name}/json`,
  });
  return body.Config.Labels['encage.dir'] ?? '';
}
