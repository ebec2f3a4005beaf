import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EncageError, Manager } from '../../src/index.js';
import { CLOSE_GRACE_MS } from '../../src/manager/manager.js';
import { createRecordingProvider, createStuckProvider } from './helpers/fakes.js';
import {
  emptyWithin,
  encageCgroups,
  entriesOf,
  processesWith,
  settledNew,
} from './helpers/leaks.js';
import { openBench, REAL_PROVIDER_NAMES, type Bench } from './helpers/manager.js';

/** Liveness bound, not a speed target: close() must return, and well within this. */
const CLOSE_BOUND_MS = CLOSE_GRACE_MS + 15_000;

/** Settles with what `promise` did, or 'pending' if it had not settled within `ms`. */
async function settleWithin(
  promise: Promise<unknown>,
  ms: number,
): Promise<
  | { state: 'resolved'; value: unknown }
  | { state: 'rejected'; error: unknown }
  | { state: 'pending' }
> {
  const outcome = promise.then(
    (value) => ({ state: 'resolved' as const, value }),
    (error: unknown) => ({ state: 'rejected' as const, error }),
  );
  return Promise.race([outcome, sleep(ms).then(() => ({ state: 'pending' as const }))]);
}

function codeOf(outcome: Awaited<ReturnType<typeof settleWithin>>): string | undefined {
  return outcome.state === 'rejected' && outcome.error instanceof EncageError
    ? outcome.error.code
    : undefined;
}

describe('Manager.close()', () => {
  let workdir: string;
  beforeAll(async () => {
    workdir = await mkdtemp(path.join(tmpdir(), 'rel-close-workdir-'));
  });
  afterAll(() => rm(workdir, { recursive: true, force: true }));

  it('aborts a prepare that honours abort, and returns the same promise every time', async () => {
    const stuck = createStuckProvider('stuck', 'honours-abort');
    const manager = new Manager({ providers: [stuck.provider], cleanupOnSignal: false });
    const run = manager.run({ provider: 'stuck', workdir }, 'true');
    const signal = await stuck.started;
    const first = manager.close();
    expect(manager.close()).toBe(first);
    expect((await settleWithin(first, CLOSE_BOUND_MS)).state).toBe('resolved');
    expect(signal?.aborted).toBe(true);
    expect(codeOf(await settleWithin(run, CLOSE_BOUND_MS))).toBe('ABORTED');
    expect((await settleWithin(manager.close(), CLOSE_BOUND_MS)).state).toBe('resolved');
    expect(
      codeOf(await settleWithin(manager.run({ provider: 'stuck', workdir }, 'true'), 1_000)),
    ).toBe('MANAGER_CLOSED');
  });

  it(
    'returns even when a prepare ignores the abort, and tears its instance down when it comes',
    async () => {
      const stuck = createStuckProvider('deaf', 'ignores-abort');
      const manager = new Manager({ providers: [stuck.provider], cleanupOnSignal: false });
      const run = manager.run({ provider: 'deaf', workdir }, 'true');
      await stuck.started;
      expect((await settleWithin(manager.close(), CLOSE_BOUND_MS)).state).toBe('resolved');
      expect((await settleWithin(run, 50)).state).toBe('pending'); // the prepare still hangs
      const late = stuck.finish();
      expect(codeOf(await settleWithin(run, CLOSE_BOUND_MS))).toBe('MANAGER_CLOSED');
      expect(late?.teardowns).toBe(1);
      expect(late?.execs).toBe(0); // nothing ran in it
      expect(manager.instances()).toEqual([]);
    },
    CLOSE_BOUND_MS * 2,
  );

  it('rejects runs still waiting for a slot instead of leaving them pending', async () => {
    const stuck = createStuckProvider('stuck', 'honours-abort');
    const manager = new Manager({
      providers: [stuck.provider],
      concurrency: 1,
      cleanupOnSignal: false,
    });
    const first = manager.run({ provider: 'stuck', workdir }, 'true');
    await stuck.started;
    const queued = [1, 2, 3].map(() => manager.run({ provider: 'stuck', workdir }, 'true'));
    await manager.close();
    expect(codeOf(await settleWithin(first, CLOSE_BOUND_MS))).toBe('ABORTED');
    for (const run of queued)
      expect(codeOf(await settleWithin(run, CLOSE_BOUND_MS))).toBe('MANAGER_CLOSED');
  });
});

describe('a teardown that fails', () => {
  it('is tried again by a later teardown and by close(), and the instance stays listed meanwhile', async () => {
    const { provider, prepared } = createRecordingProvider();
    const manager = new Manager({ providers: [provider], cleanupOnSignal: false });
    const instance = await manager.prepare({ provider: provider.name });
    const fake = prepared[0];
    if (!fake) throw new Error('not prepared');
    fake.failingTeardowns = 2;
    await expect(instance.teardown()).rejects.toMatchObject({ code: 'TEARDOWN_FAILED' });
    expect(manager.instances()).toEqual([instance]); // its resources may still be there
    expect(() => instance.exec('true', [], {})).toThrow(/torn down/);
    await expect(instance.teardown()).rejects.toMatchObject({ code: 'TEARDOWN_FAILED' });
    await manager.close();
    expect(fake.teardowns).toBe(3);
    expect(manager.instances()).toEqual([]);
    await instance.teardown(); // done once and for all
    expect(fake.teardowns).toBe(3);
  });
});

describe.each(REAL_PROVIDER_NAMES)('Manager.close() with commands running on %s', (provider) => {
  let bench: Bench;
  beforeAll(async () => {
    bench = await openBench(`close-${provider}`);
  });
  afterAll(() => bench.close());

  it('stops the running commands, their trees and prepared instances, leaving nothing', async () => {
    const cgroupsBefore = encageCgroups();
    const limits = provider === 'bwrap' ? { pids: 64 } : {};
    const runs = await Promise.all(
      [1, 2, 3].map(async () => {
        const running = await bench.manager.spawn(
          bench.spec(provider, { limits }),
          'sh',
          ['-c', 'sleep 60 & sleep 60 & echo ready; wait', bench.marker],
          { buffer: false },
        );
        // Listen at once: with buffer false, execa lets unread output flow away after a tick.
        const { stdout } = running.subprocess;
        if (stdout) await once(stdout, 'data');
        return running;
      }),
    );
    const idle = await bench.manager.prepare(bench.spec(provider, { limits }));
    // Positive control: the scans see all of it while it runs.
    expect(processesWith(bench.marker).length).toBeGreaterThanOrEqual(3 * 3);
    expect((await entriesOf(bench.tmp)).length).toBe(4);
    await Promise.all([bench.manager.close(), bench.manager.close()]);
    for (const { result } of runs) expect(await result).toMatchObject({ aborted: true });
    expect(bench.manager.instances()).toEqual([]);
    expect(idle.exec.bind(idle, 'true', [], {})).toThrow(/torn down/);
    expect(await emptyWithin(() => processesWith(bench.marker), 5_000)).toEqual([]);
    expect(await entriesOf(bench.tmp)).toEqual([]);
    expect(await settledNew(cgroupsBefore, encageCgroups)).toEqual([]);
  });
});
