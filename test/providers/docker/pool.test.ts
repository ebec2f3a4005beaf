import { existsSync } from 'node:fs';
import { chown, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Manager } from '../../../src/manager/manager.js';
import type { Provider } from '../../../src/provider.js';
import {
  createDockerPool,
  createDockerProvider,
  DOCKER_POOL_NAME,
  type DockerPool,
  type DockerPoolOptions,
} from '../../../src/providers/docker/index.js';
import { DEFAULT_PATH, parseSpec, type SandboxSpecInput } from '../../../src/spec.js';
import { testProviderContract } from '../../../src/testing/index.js';
import {
  DOCKER_ENABLED,
  ownContainers,
  RUNSC_ENABLED,
  RUNSC_RUNTIME,
  TEST_IMAGE,
  testEngine,
} from '../../helpers/docker.js';
import { rejection, thrown } from '../../helpers/errors.js';

/** Variables the shell or runtime sets by itself (as the contract suite allows). */
const RUNTIME_SET_ENV = ['PWD', 'HOSTNAME', 'SHLVL', 'OLDPWD', '_'];
/** Run as root, the container user is nobody (65534): give it the workdir. */
const NOBODY = 65_534;
const giveToNobody = async (dir: string): Promise<void> => {
  if (process.getuid?.() === 0) await chown(dir, NOBODY, NOBODY);
};

/** Containers of this process that carry the pool label (whatever their state). */
async function poolContainers(name: string): Promise<string[]> {
  const list = await testEngine().json<{ Names?: string[] }[]>({
    path: '/containers/json',
    query: {
      all: true,
      filters: JSON.stringify({
        label: [`encage.owner-pid=${process.pid}`, `encage.pool=${name}`],
      }),
    },
  });
  return list.map((c) => (c.Names?.[0] ?? '').replace(/^\//, ''));
}

async function exists(container: string): Promise<boolean> {
  try {
    await testEngine().request({ path: `/containers/${container}/json` });
    return true;
  } catch {
    return false;
  }
}

/**
 * The contract suite makes its workdir after it asked for the provider, and a pool's shape
 * names the workdir: the provider it gets forwards to a pool started on that workdir.
 */
function contractOnPool(label: string, enabled: boolean, options: Record<string, unknown>): void {
  let pool: DockerPool | undefined;
  const started = (): DockerPool => {
    if (!pool) throw new Error('the pool is started by setupWorkdir');
    return pool;
  };
  const name = `${DOCKER_POOL_NAME}-${label}`;
  describe(`docker pool (${label}) under the contract`, () => {
    testProviderContract({
      label: `docker pool (${label})`,
      enabled,
      spec: { options: { image: TEST_IMAGE, ...options } },
      createProvider: (): Provider => ({
        name,
        get capabilities() {
          return started().capabilities;
        },
        check: () => started().check(),
        prepare: (spec, scripts, prepareOptions) =>
          started().prepare(spec, scripts, prepareOptions),
      }),
      setupWorkdir: async (workdir) => {
        await giveToNobody(workdir);
        pool = createDockerPool({
          name,
          size: 2,
          spec: { workdir, options: { image: TEST_IMAGE, ...options } },
        });
        await pool.start();
      },
    });
    afterAll(async () => {
      await pool?.stop();
      if (enabled) expect(await poolContainers(name)).toEqual([]);
    });
  });
}

contractOnPool('runc', DOCKER_ENABLED, {});
contractOnPool('runsc', RUNSC_ENABLED, { runtime: RUNSC_RUNTIME });

describe.runIf(DOCKER_ENABLED)('docker pool', () => {
  let workdir: string;
  let manager: Manager;
  const pools: DockerPool[] = [];
  const spec = (extra: Partial<SandboxSpecInput> = {}): SandboxSpecInput => ({
    workdir,
    ...extra,
    options: { image: TEST_IMAGE, ...extra.options },
  });
  /** A started pool registered with the test's manager; named in `spec.provider` of runs. */
  const startPool = async (
    name: string,
    options: Partial<DockerPoolOptions> = {},
  ): Promise<DockerPool> => {
    const pool = createDockerPool({ name, size: 2, spec: spec(), ...options });
    pools.push(pool);
    await pool.start();
    manager.register(pool);
    return pool;
  };

  beforeAll(async () => {
    manager = new Manager({ cleanupOnSignal: false });
    workdir = await mkdtemp(path.join(tmpdir(), 'encage-docker-pool-'));
    await giveToNobody(workdir);
  });
  afterAll(async () => {
    await manager.close();
    await Promise.all(pools.map((pool) => pool.stop()));
    await rm(workdir, { recursive: true, force: true });
    expect(await ownContainers()).toEqual([]);
  });

  it('starts warm, hands a container out, removes it after teardown and refills', async () => {
    const pool = await startPool('pool-refill');
    expect(pool.state).toBe('running');
    expect(pool.stats()).toMatchObject({ size: 2, warm: 2, inUse: 0 });
    const warm = await poolContainers('pool-refill');
    expect(warm).toHaveLength(2);
    const instance = await manager.prepare(spec({ provider: 'pool-refill' }));
    const container = `encage-${instance.id}`;
    expect(warm).toContain(container);
    expect(instance.provider).toBe('pool-refill');
    expect(pool.stats().inUse).toBe(1);
    await instance.teardown();
    await pool.settled();
    expect(await exists(container)).toBe(false);
    expect(pool.stats()).toMatchObject({ warm: 2, inUse: 0, creating: 0, removing: 0 });
    const now = await poolContainers('pool-refill');
    expect(now).toHaveLength(2);
    expect(now).not.toContain(container);
  });

  it('labels its containers so that encage gc can judge their owner', async () => {
    const pool = await startPool('pool-labels', { size: 1 });
    const [name] = await poolContainers('pool-labels');
    const { Config } = await testEngine().json<{ Config: { Labels: Record<string, string> } }>({
      path: `/containers/${name}/json`,
    });
    expect(Config.Labels).toMatchObject({
      'encage.pool': 'pool-labels',
      'encage.owner-pid': String(process.pid),
      'encage.instance': name?.replace(/^encage-/, ''),
    });
    expect(pool.stats().warm).toBe(1);
  });

  it('refuses a spec of another shape, naming the first field that differs', async () => {
    await startPool('pool-shape', { size: 1 });
    const other = await mkdtemp(path.join(tmpdir(), 'encage-docker-pool-other-'));
    const refused = async (extra: Partial<SandboxSpecInput>) =>
      rejection(manager.run(spec({ provider: 'pool-shape', ...extra }), 'true'));
    try {
      const cases: [Partial<SandboxSpecInput>, string][] = [
        [{ workdir: other }, 'spec.workdir'],
        [{ readOnly: [other] }, 'spec.readOnly'],
        [{ deny: ['.env'] }, 'spec.deny'],
        [{ network: 'host' }, 'spec.network'],
        [{ env: { PATH: DEFAULT_PATH, HOME: '/home/other' } }, 'spec.env.HOME'],
        [{ limits: { memoryBytes: 64 * 1024 ** 2 } }, 'spec.limits.memoryBytes'],
        [{ limits: { pids: 64 } }, 'spec.limits.pids'],
        [{ options: { image: 'busybox:other' } }, 'spec.options.image'],
        [{ options: { runtime: 'runc' } }, 'spec.options.runtime'],
        [{ options: { user: '1234:1234' } }, 'spec.options.user'],
        [{ labels: { task: 'lint' } }, 'spec.labels'],
      ];
      for (const [extra, field] of cases) {
        const error = await refused(extra);
        expect(error, field).toMatchObject({ code: 'UNSUPPORTED_SPEC', path: field });
        expect(error.message).toContain('[pool-shape]');
      }
      expect((await refused({ limits: { cpus: 1 } })).message).toContain('(pool: none; spec: 1)');
      expect((await refused({ labels: { token: 'hush' } })).message).not.toContain('hush');
    } finally {
      await rm(other, { recursive: true, force: true });
    }
  });

  it('runs specs that differ only in env, timeout and output limit', async () => {
    await startPool('pool-env', { size: 1 });
    const env = { PATH: DEFAULT_PATH, ONLY_HERE: 'yes' };
    const result = await manager.run(
      spec({ provider: 'pool-env', env, limits: { timeoutMs: 10_000, outputBytes: 4096 } }),
      'env',
    );
    expect(result.exitCode).toBe(0);
    const names = result.stdout
      .split('\n')
      .filter(Boolean)
      .map((line) => line.split('=')[0]);
    // The pool's containers were made with the default env (LANG, TERM): none of it shows.
    expect(names.filter((n) => !RUNTIME_SET_ENV.includes(n ?? '')).sort()).toEqual([
      'ONLY_HERE',
      'PATH',
    ]);
  });

  it('gives every run its own container: nothing one leaves in /tmp or HOME reaches the next', async () => {
    await startPool('pool-fresh', { size: 2 });
    const sh = (script: string) =>
      manager.run(spec({ provider: 'pool-fresh' }), 'sh', ['-c', script]);
    const first = await sh('echo left > /tmp/left && echo left > "$HOME/left" && echo wrote');
    expect(first.stdout).toBe('wrote\n');
    const second = await sh('ls /tmp/left "$HOME/left" 2>&1; echo checked');
    expect(second.stdout).toContain('checked');
    expect(second.stdout).toMatch(/No such file/);
    expect(second.instanceId).not.toBe(first.instanceId);
  });

  it('has killed what a command left running by the time teardown resolves', async () => {
    await startPool('pool-kill', { size: 1 });
    const early = path.join(workdir, 'early.txt');
    const late = path.join(workdir, 'late.txt');
    const result = await manager.run(spec({ provider: 'pool-kill' }), 'sh', [
      '-c',
      '(echo early > early.txt; sleep 1; echo late > late.txt) >/dev/null 2>&1 & sleep 0.2',
    ]);
    expect(result.exitCode).toBe(0);
    expect(await readFile(early, 'utf8')).toBe('early\n');
    await sleep(1_500);
    expect(existsSync(late)).toBe(false);
  });

  it('masks a deny path that appeared after its containers were made', async () => {
    const name = 'pool-deny';
    await startPool(name, { size: 2, spec: spec({ deny: ['late-secret.txt'] }) });
    await writeFile(path.join(workdir, 'late-secret.txt'), 'host-secret\n');
    try {
      const result = await manager.run(spec({ provider: name, deny: ['late-secret.txt'] }), 'sh', [
        '-c',
        'echo "[$(cat late-secret.txt)]"; echo marker-ok',
      ]);
      expect(result.stdout).toContain('marker-ok');
      expect(result.stdout).toContain('[]');
      expect(result.stdout).not.toContain('host-secret');
    } finally {
      await rm(path.join(workdir, 'late-secret.txt'));
    }
  });

  it('creates containers on demand when empty, and replaces one that died while warm', async () => {
    const pool = await startPool('pool-demand', { size: 1 });
    const [warm] = await poolContainers('pool-demand');
    await testEngine().request({ method: 'POST', path: `/containers/${warm}/kill` });
    const results = await Promise.all(
      [1, 2, 3].map((n) =>
        manager.run(spec({ provider: 'pool-demand' }), 'sh', ['-c', `echo run ${n}`]),
      ),
    );
    expect(results.map((r) => r.stdout)).toEqual(['run 1\n', 'run 2\n', 'run 3\n']);
    expect(results.map((r) => `encage-${r.instanceId}`)).not.toContain(warm);
    await pool.settled();
    expect(await exists(warm ?? '')).toBe(false);
    expect(pool.stats()).toMatchObject({ warm: 1, inUse: 0 });
  });

  it('honours an abort signal, leaving no container behind', async () => {
    const pool = await startPool('pool-abort', { size: 1 });
    const aborted = AbortSignal.abort();
    const before = await rejection(
      pool.prepare(parseSpec(spec({ provider: 'pool-abort' })), [], { signal: aborted }),
    );
    expect(before.code).toBe('ABORTED');
    const outcomes = await Promise.all(
      [0, 5, 20, 100, 300].map(async (delayMs) => {
        const controller = new AbortController();
        setTimeout(() => controller.abort(), delayMs);
        try {
          const result = await manager.run(spec({ provider: 'pool-abort' }), 'sleep', ['30'], {
            signal: controller.signal,
          });
          return result.aborted ? 'aborted-run' : `exit ${result.exitCode}`;
        } catch (error) {
          return (error as { code?: string }).code ?? String(error);
        }
      }),
    );
    for (const outcome of outcomes) expect(['aborted-run', 'ABORTED']).toContain(outcome);
    await pool.settled();
    expect(pool.stats()).toMatchObject({ warm: 1, inUse: 0 });
    expect(await poolContainers('pool-abort')).toHaveLength(1);
  });

  it('stops: removes every container, also those in use; stopping twice is safe', async () => {
    const pool = await startPool('pool-stop', { size: 2 });
    const instance = await manager.prepare(spec({ provider: 'pool-stop' }));
    await pool.settled();
    expect(await poolContainers('pool-stop')).toHaveLength(3);
    await Promise.all([pool.stop(), pool.stop()]);
    await pool.stop();
    expect(pool.state).toBe('stopped');
    expect(await poolContainers('pool-stop')).toEqual([]);
    expect(thrown(() => instance.exec('true', [], {})).code).toBe('INSTANCE_CLOSED');
    const refused = await rejection(manager.run(spec({ provider: 'pool-stop' }), 'true'));
    expect(refused).toMatchObject({ code: 'PROVIDER_UNAVAILABLE' });
    expect(await pool.check()).toMatchObject({ available: false });
    expect((await rejection(pool.start())).code).toBe('PROVIDER_UNAVAILABLE');
  });

  it('refuses prepare before start, and a pool stopped before it started made nothing', async () => {
    const pool = createDockerPool({ name: 'pool-idle', spec: spec() });
    expect(pool.state).toBe('idle');
    const error = await rejection(pool.prepare(parseSpec(spec()), []));
    expect(error).toMatchObject({ code: 'PROVIDER_UNAVAILABLE', path: 'spec.provider' });
    expect(error.message).toContain('start()');
    expect((await pool.check()).available).toBe(false);
    await pool.stop();
    expect(pool.state).toBe('stopped');
    expect(await poolContainers('pool-idle')).toEqual([]);
  });

  it('fails start() for an image the engine lacks, leaving nothing, and may start again', async () => {
    const pool = createDockerPool({
      name: 'pool-bad-image',
      spec: spec({ options: { image: 'encage-test/does-not-exist:1' } }),
    });
    pools.push(pool);
    const error = await rejection(pool.start());
    expect(error).toMatchObject({ code: 'INVALID_SPEC', path: 'spec.options.image' });
    expect(pool.state).toBe('idle');
    expect(await poolContainers('pool-bad-image')).toEqual([]);
  });

  it('refuses options.pool in a docker spec and points at createDockerPool', async () => {
    await using local = new Manager({
      providers: [createDockerProvider()],
      cleanupOnSignal: false,
    });
    const error = await rejection(
      local.run(spec({ provider: 'docker', options: { image: TEST_IMAGE, pool: true } }), 'true'),
    );
    expect(error).toMatchObject({ code: 'INVALID_SPEC', path: 'spec.options.pool' });
    expect(error.message).toContain('createDockerPool');
  });
});
