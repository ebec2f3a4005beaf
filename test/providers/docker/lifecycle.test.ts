import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Manager } from '../../../src/manager/manager.js';
import { createDockerProvider } from '../../../src/providers/docker/index.js';
import { readBootId } from '../../../src/providers/docker/owner.js';
import type { SandboxSpecInput } from '../../../src/spec.js';
import {
  DOCKER_ENABLED,
  ownContainers,
  RUNSC_ENABLED,
  TEST_IMAGE,
  testEngine,
} from '../../helpers/docker.js';

const RUNTIMES = [
  { label: 'runc', enabled: DOCKER_ENABLED, options: {} },
  { label: 'runsc', enabled: RUNSC_ENABLED, options: { runtime: 'runsc' } },
];
const NO_HANG_MS = 20_000;

interface Inspect {
  Config: { Labels: Record<string, string>; Env: string[] };
  State: { Running: boolean };
}

const inspect = (name: string) => testEngine().json<Inspect>({ path: `/containers/${name}/json` });

async function exists(name: string): Promise<boolean> {
  try {
    await inspect(name);
    return true;
  } catch {
    return false;
  }
}

describe.each(RUNTIMES)('docker ($label) lifecycle', ({ enabled, options }) => {
  let manager: Manager;
  let workdir: string;
  const spec = (extra: Partial<SandboxSpecInput> = {}): SandboxSpecInput => ({
    provider: 'docker',
    workdir,
    ...extra,
    options: { image: TEST_IMAGE, ...options },
  });

  beforeAll(async () => {
    if (!enabled) return;
    manager = new Manager({ providers: [createDockerProvider()], cleanupOnSignal: false });
    workdir = await mkdtemp(path.join(tmpdir(), 'encage-docker-life-'));
  });
  afterAll(async () => {
    if (!enabled) return;
    await manager.close();
    await rm(workdir, { recursive: true, force: true });
    expect(await ownContainers()).toEqual([]);
  });

  describe.runIf(enabled)('containers', () => {
    it('labels the container with its instance, owner and the spec labels', async () => {
      const instance = await manager.prepare(spec({ labels: { task: 'lint' } }));
      try {
        const { Config, State } = await inspect(`encage-${instance.id}`);
        expect(State.Running).toBe(true);
        expect(Config.Labels).toMatchObject({
          'encage.instance': instance.id,
          'encage.owner-pid': String(process.pid),
          'encage.owner-boot': readBootId(),
          'encage.owner-host': hostname(),
          'encage.label.task': 'lint',
        });
        expect(instance.labels).toEqual({ task: 'lint' });
      } finally {
        await instance.teardown();
      }
    });

    it('removes the container and its host dir at teardown', async () => {
      const instance = await manager.prepare(spec());
      const name = `encage-${instance.id}`;
      const dir = (await inspect(name)).Config.Labels['encage.dir'] ?? '';
      expect(existsSync(dir)).toBe(true);
      await instance.teardown();
      expect(await exists(name)).toBe(false);
      expect(existsSync(dir)).toBe(false);
    });

    it(
      'ends the run, without hanging, when the container is killed from outside',
      async () => {
        const running = await manager.spawn(spec(), 'sh', ['-c', 'echo ready; sleep 60'], {
          buffer: false,
        });
        running.subprocess.stdout?.once('data', () => {
          void testEngine().request({
            method: 'POST',
            path: `/containers/encage-${running.instance.id}/kill`,
          });
        });
        const result = await running.result;
        expect(result.exitCode).not.toBe(0);
        expect(result.timedOut).toBe(false);
        expect(await exists(`encage-${running.instance.id}`)).toBe(false);
      },
      NO_HANG_MS,
    );

    it('leaves no container behind when aborted at any point of prepare or run', async () => {
      const outcomes = await Promise.all(
        [0, 20, 60, 150, 300].map(async (delayMs) => {
          const controller = new AbortController();
          setTimeout(() => controller.abort(), delayMs);
          try {
            const result = await manager.run(spec(), 'sleep', ['30'], {
              signal: controller.signal,
            });
            return result.aborted ? 'aborted-run' : `exit ${result.exitCode}`;
          } catch (error) {
            return (error as { code?: string }).code ?? String(error);
          }
        }),
      );
      for (const outcome of outcomes) expect(['aborted-run', 'ABORTED']).toContain(outcome);
      expect(await ownContainers()).toEqual([]);
      expect(manager.instances()).toEqual([]);
    });

    it(
      'ends a running command when the manager closes',
      async () => {
        const local = new Manager({ providers: [createDockerProvider()], cleanupOnSignal: false });
        const running = await local.spawn(spec(), 'sh', ['-c', 'echo ready; sleep 60'], {
          buffer: false,
        });
        await new Promise((resolve) => running.subprocess.stdout?.once('data', resolve));
        await local.close();
        const result = await running.result;
        expect(result.exitCode).not.toBe(0);
        expect(await exists(`encage-${running.instance.id}`)).toBe(false);
      },
      NO_HANG_MS,
    );
  });
});
