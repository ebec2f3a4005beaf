import { existsSync } from 'node:fs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EncageError, isEncageError } from '../../src/errors.js';
import { Manager } from '../../src/manager/manager.js';
import type { Capabilities, Instance, Provider } from '../../src/provider.js';
import { createNoopProvider } from '../../src/providers/noop/index.js';
import { createScriptdirProvider } from '../../src/providers/scriptdir/index.js';
import { rejection } from '../helpers/errors.js';

const NONE: Capabilities = {
  isolation: 0,
  filesystem: false,
  network: false,
  limits: [],
  seccomp: false,
  tty: true,
  killsTree: false,
};

/** A provider that isolates on paper; prepare delegates to noop so commands really run. */
function fakeProvider(
  name: string,
  isolation: number,
  available: boolean,
  prepare?: Provider['prepare'],
): Provider {
  const noop = createNoopProvider();
  return {
    name,
    capabilities: { ...NONE, isolation, filesystem: true, network: true },
    check: () =>
      Promise.resolve({ available, reason: available ? `${name} ok` : `${name} is not installed` }),
    prepare:
      prepare ??
      ((spec, scripts, options) =>
        noop.prepare({ ...spec, network: 'host', deny: [] }, scripts, options)),
  };
}

describe('Manager', () => {
  let workdir: string;
  beforeAll(async () => {
    workdir = await mkdtemp(path.join(tmpdir(), 'encage-manager-'));
  });
  afterAll(() => rm(workdir, { recursive: true, force: true }));

  it('refuses a duplicate provider name, naming it', () => {
    const manager = new Manager({ providers: [createNoopProvider()] });
    expect(() => manager.register(createNoopProvider())).toThrow(
      /provider "noop" is already registered/,
    );
    expect(manager.unregister('noop')).toBe(true);
    manager.register(createNoopProvider());
    expect(manager.providers().map((p) => p.name)).toEqual(['noop']);
  });

  it('auto never picks a provider that does not isolate, and says what to install', async () => {
    const manager = new Manager({ providers: [createNoopProvider(), createScriptdirProvider()] });
    const error = await rejection(manager.select('auto'));
    expect(error.code).toBe('PROVIDER_UNAVAILABLE');
    expect(error.message).toContain('apt-get install bubblewrap');
  });

  it('auto picks the strongest available isolating provider and explains why', async () => {
    const manager = new Manager({
      providers: [
        createNoopProvider(),
        fakeProvider('weak', 1, true),
        fakeProvider('strong', 5, false),
        fakeProvider('mid', 3, true),
      ],
    });
    const selection = await manager.select();
    expect(selection.provider.name).toBe('mid');
    expect(selection.reason).toContain('mid ok');
    const unavailable = await rejection(manager.select('strong'));
    expect(unavailable.code).toBe('PROVIDER_UNAVAILABLE');
    expect(unavailable.message).toContain('strong is not installed');
    expect((await rejection(manager.select('nope'))).code).toBe('UNKNOWN_PROVIDER');
  });

  it('refuses a spec the provider cannot enforce before creating anything', async () => {
    const before = await readdir(tmpdir());
    const manager = new Manager({ providers: [createScriptdirProvider()] });
    const error = await rejection(
      manager.run({ provider: 'scriptdir', workdir, deny: ['.env'] }, 'true'),
    );
    expect(error).toMatchObject({ code: 'UNSUPPORTED_SPEC', path: 'spec.deny' });
    const limits = await rejection(
      manager.run(
        { provider: 'scriptdir', workdir, limits: { memoryBytes: 64 * 1024 * 1024 } },
        'true',
      ),
    );
    expect(limits).toMatchObject({ code: 'UNSUPPORTED_SPEC', path: 'spec.limits.memoryBytes' });
    const created = (await readdir(tmpdir())).filter(
      (name) => !before.includes(name) && name.startsWith('encage-scriptdir-'),
    );
    expect(created).toEqual([]);
  });

  it('turns a command that cannot start into SPAWN_FAILED and still tears down', async () => {
    const manager = new Manager({ providers: [createNoopProvider()] });
    const error = await rejection(
      manager.run({ provider: 'noop', workdir }, '/definitely/not/a/command'),
    );
    expect(error.code).toBe('SPAWN_FAILED');
    expect(manager.instances()).toEqual([]);
  });

  it('cuts buffered output at limits.outputBytes and flags it', async () => {
    const manager = new Manager({ providers: [createNoopProvider()] });
    const result = await manager.run(
      { provider: 'noop', workdir, limits: { outputBytes: 1000 } },
      'sh',
      ['-c', 'yes | head -c 100000; echo done >&2'],
    );
    expect(result.outputTruncated).toBe(true);
    expect(result.stdout.length).toBeLessThanOrEqual(1000);
    const small = await manager.run(
      { provider: 'noop', workdir, limits: { outputBytes: 1000 } },
      'echo',
      ['fits'],
    );
    expect(small).toMatchObject({ outputTruncated: false, stdout: 'fits\n' });
  });

  it('tears down when prepare throws, and reports the error as is', async () => {
    const failing = fakeProvider('failing', 1, true, () =>
      Promise.reject(new EncageError('PREPARE_FAILED', '[failing] boom')),
    );
    const manager = new Manager({ providers: [failing] });
    expect((await rejection(manager.run({ provider: 'failing', workdir }, 'true'))).message).toBe(
      '[failing] boom',
    );
    expect(manager.instances()).toEqual([]);
  });

  it('close() tears down every live instance, aborts pending prepares, and refuses new work', async () => {
    let pendingSignal: AbortSignal | undefined;
    const hanging = fakeProvider('hanging', 1, true, (_spec, _scripts, options) => {
      pendingSignal = options?.signal;
      return new Promise<Instance>((_resolve, reject) =>
        options?.signal?.addEventListener('abort', () =>
          reject(new EncageError('ABORTED', 'aborted')),
        ),
      );
    });
    const manager = new Manager({ providers: [createNoopProvider(), hanging] });
    const live = await manager.prepare({ provider: 'noop', workdir }, [
      { innerPath: 'x.sh', mode: 0o700, contents: 'x' },
    ]);
    const root = live.root;
    const stuck = rejection(manager.prepare({ provider: 'hanging', workdir }));
    await new Promise((resolve) => setTimeout(resolve, 20));
    await Promise.all([manager.close(), manager.close()]);
    expect(pendingSignal?.aborted).toBe(true);
    expect((await stuck).code).toBe('ABORTED');
    expect(existsSync(root)).toBe(false);
    expect(manager.instances()).toEqual([]);
    expect((await rejection(manager.run({ provider: 'noop', workdir }, 'true'))).code).toBe(
      'MANAGER_CLOSED',
    );
  });

  it('supports await using for instances and managers', async () => {
    let root = '';
    {
      await using manager = new Manager({ providers: [createNoopProvider()] });
      await using instance = await manager.prepare({ provider: 'noop', workdir });
      root = instance.root;
      expect(existsSync(root)).toBe(true);
    }
    expect(existsSync(root)).toBe(false);
  });

  it('removes its signal handlers once no instance is live', async () => {
    const before = process.listenerCount('SIGTERM');
    const manager = new Manager({ providers: [createNoopProvider()] });
    const instance = await manager.prepare({ provider: 'noop', workdir });
    expect(process.listenerCount('SIGTERM')).toBe(before + 1);
    await instance.teardown();
    expect(process.listenerCount('SIGTERM')).toBe(before);
    expect(isEncageError(new EncageError('ABORTED', 'x'), 'ABORTED')).toBe(true);
  });
});
