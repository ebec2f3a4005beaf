import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Manager } from '../../../src/manager/manager.js';
import { createDockerProvider } from '../../../src/providers/docker/index.js';
import type { SandboxSpecInput } from '../../../src/spec.js';
import {
  DOCKER_ENABLED,
  ownContainers,
  RUNSC_ENABLED,
  TEST_IMAGE,
  testEngine,
} from '../../helpers/docker.js';
import { rejection } from '../../helpers/errors.js';

describe.runIf(DOCKER_ENABLED)('docker spec.options', () => {
  let manager: Manager;
  let workdir: string;
  const spec = (options: Record<string, unknown>, extra: Partial<SandboxSpecInput> = {}) => ({
    provider: 'docker',
    workdir,
    options,
    ...extra,
  });

  beforeAll(async () => {
    manager = new Manager({ providers: [createDockerProvider()], cleanupOnSignal: false });
    workdir = await mkdtemp(path.join(tmpdir(), 'encage-docker-options-'));
  });
  afterAll(async () => {
    await manager.close();
    await rm(workdir, { recursive: true, force: true });
    expect(await ownContainers()).toEqual([]);
  });

  it('refuses an unknown option key, naming it', async () => {
    const error = await rejection(manager.run(spec({ image: TEST_IMAGE, imagee: 'x' }), 'true'));
    expect(error.code).toBe('INVALID_SPEC');
    expect(error.message).toContain('spec.options');
    expect(error.message).toContain('"imagee"');
  });

  it('refuses a spec without an image or dockerfile', async () => {
    const error = await rejection(manager.run(spec({}), 'true'));
    expect(error).toMatchObject({ code: 'INVALID_SPEC', path: 'spec.options.image' });
    expect(error.message).toMatch(/required/);
  });

  it('refuses an image and a dockerfile together', async () => {
    const error = await rejection(
      manager.run(spec({ image: TEST_IMAGE, dockerfile: 'Dockerfile' }), 'true'),
    );
    expect(error).toMatchObject({ code: 'INVALID_SPEC', path: 'spec.options.dockerfile' });
  });

  it('refuses a user that is not a numeric uid:gid', async () => {
    const error = await rejection(
      manager.run(spec({ image: TEST_IMAGE, user: 'sandbox' }), 'true'),
    );
    expect(error).toMatchObject({ code: 'INVALID_SPEC', path: 'spec.options.user' });
  });

  it('refuses a grant of "/" before creating anything, and still runs with narrower grants', async () => {
    const before = (await ownContainers()).length;
    const error = await rejection(
      manager.run(spec({ image: TEST_IMAGE }, { readOnly: ['/'] }), 'true'),
    );
    expect(error).toMatchObject({ code: 'INVALID_SPEC', path: 'readOnly' });
    expect(error.message).toContain('grant the directories');
    expect((await ownContainers()).length).toBe(before);
    const ok = await manager.run(spec({ image: TEST_IMAGE }, { readOnly: ['/usr'] }), 'true');
    expect(ok.exitCode).toBe(0);
  });

  it('refuses an image missing from the engine, naming it and how to get it', async () => {
    const image = 'encage-test/does-not-exist:1';
    const error = await rejection(manager.run(spec({ image }), 'true'));
    expect(error).toMatchObject({ code: 'INVALID_SPEC', path: 'spec.options.image' });
    expect(error.message).toContain(`"${image}"`);
    expect(error.message).toContain('docker build -t');
    expect(error.message).toContain('docker load');
  });

  it('refuses a runtime the engine does not list, naming the listed ones', async () => {
    const error = await rejection(
      manager.run(spec({ image: TEST_IMAGE, runtime: 'kata-nope' }), 'true'),
    );
    expect(error).toMatchObject({ code: 'INVALID_SPEC', path: 'spec.options.runtime' });
    expect(error.message).toContain('"kata-nope"');
    expect(error.message).toContain('runc');
  });

  it.runIf(RUNSC_ENABLED)(
    'refuses host networking under runsc started with --network=none',
    async () => {
      const error = await rejection(
        manager.run(spec({ image: TEST_IMAGE, runtime: 'runsc' }, { network: 'host' }), 'true'),
      );
      expect(error).toMatchObject({ code: 'UNSUPPORTED_SPEC', path: 'spec.network' });
    },
  );

  it('builds an image from a Dockerfile once and reuses it while the context is unchanged', async () => {
    const context = path.join(workdir, 'ctx');
    const dockerfile = path.join(context, 'Dockerfile');
    await mkdir(context);
    await writeFile(dockerfile, `FROM ${TEST_IMAGE}\nCOPY greeting /greeting\n`);
    await writeFile(path.join(context, 'greeting'), `built ${process.pid}\n`);
    const engine = testEngine();
    const builtTags = async (): Promise<string[]> => {
      const images = await engine.json<{ RepoTags?: string[] }[]>({
        path: '/images/json',
        query: { filters: JSON.stringify({ label: [`encage.dockerfile=${dockerfile}`] }) },
      });
      return images.flatMap((image) => image.RepoTags ?? []).sort();
    };
    // A fresh provider per run: nothing is cached in memory, only the image on the engine.
    const runFresh = async (options: Record<string, unknown>) => {
      await using fresh = new Manager({
        providers: [createDockerProvider()],
        cleanupOnSignal: false,
      });
      return await fresh.run(spec(options), 'cat', ['/greeting']);
    };
    try {
      const first = await runFresh({ dockerfile: 'ctx/Dockerfile' });
      expect(first.stdout).toBe(`built ${process.pid}\n`);
      const tags = await builtTags();
      expect(tags).toHaveLength(1);
      expect(tags[0]).toMatch(/^encage-build:[0-9a-f]{64}$/);
      const second = await runFresh({ dockerfile });
      expect(second.stdout).toBe(first.stdout);
      expect(await builtTags()).toEqual(tags);
      await writeFile(path.join(context, 'greeting'), 'changed\n');
      const third = await runFresh({ dockerfile });
      expect(third.stdout).toBe('changed\n');
      expect(await builtTags()).toHaveLength(2);
    } finally {
      for (const tag of await builtTags())
        await engine.request({ method: 'DELETE', path: `/images/${tag}`, query: { force: true } });
    }
  }, 120_000);

  it('reports a failing Dockerfile build as PREPARE_FAILED with the builder message', async () => {
    const context = path.join(workdir, 'broken');
    await mkdir(context);
    await writeFile(path.join(context, 'Dockerfile'), `FROM ${TEST_IMAGE}\nCOPY missing-file /x\n`);
    const error = await rejection(manager.run(spec({ dockerfile: 'broken/Dockerfile' }), 'true'));
    expect(error.code).toBe('PREPARE_FAILED');
    expect(error.message).toContain('missing-file');
  }, 120_000);
});
