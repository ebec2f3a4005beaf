import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BWRAP_ENABLED } from '../helpers/backends.js';
import { createScriptsDir, readyLine, writeChildScript } from './helpers/child.js';
import { emptyWithin, encageCgroups, entriesOf, processesWith } from './helpers/leaks.js';
import { createMarker } from './helpers/scope.js';

const CHILD_TIMEOUT_MS = 60_000;
const SIGNAL_EXIT = { SIGINT: 130, SIGTERM: 143 } as const;

/**
 * A Manager with cleanupOnSignal in a child process. Modes: `prepared` (idle instances and a
 * running command per provider), `preparing` (a prepare that made a temp dir and waits for the
 * abort to remove it), `deaf` (a prepare that ignores the abort). Prints one JSON line when set.
 */
const SIGNAL_CHILD = `
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Manager, createScriptdirProvider, EncageError } from '{{index}}';
import { createBwrapProvider } from '{{bwrap}}';
const [mode, workdir, marker, withBwrap] = process.argv.slice(2);
const slow = (name, deaf) => ({
  name,
  capabilities: createScriptdirProvider().capabilities,
  check: async () => ({ available: true, reason: 'slow on purpose' }),
  prepare: (_spec, _scripts, options) =>
    new Promise((_resolve, reject) => {
      const dir = mkdtempSync(path.join(tmpdir(), 'encage-slow-'));
      console.log(JSON.stringify({ ready: true, pid: process.pid, dir }));
      if (deaf) return;
      options.signal.addEventListener('abort', () => {
        // A slow provider's cleanup takes a while; close() must wait for it.
        setTimeout(() => {
          rmSync(dir, { recursive: true, force: true });
          reject(new EncageError('ABORTED', 'aborted'));
        }, 300);
      });
    }),
});
const providers = [createScriptdirProvider(), slow('slow', false), slow('deaf', true)];
if (withBwrap === 'yes') providers.push(createBwrapProvider());
const manager = new Manager({ providers, cleanupOnSignal: true });
setInterval(() => undefined, 1000); // an app that stays up: only the signal ends it
const env = { PATH: '/usr/bin:/bin', ENCAGE_REL_MARKER: marker };
if (mode === 'prepared') {
  const names = withBwrap === 'yes' ? ['scriptdir', 'bwrap'] : ['scriptdir'];
  const ids = [];
  for (const provider of names) {
    const limits = provider === 'bwrap' ? { pids: 64 } : {};
    const idle = await manager.prepare({ provider, workdir, env, limits });
    ids.push(idle.id);
    const running = await manager.spawn({ provider, workdir, env, limits }, 'sh',
      ['-c', 'sleep 60 & echo ready; wait', marker], { buffer: false });
    ids.push(running.instance.id);
    await new Promise((resolve) => running.subprocess.stdout.once('data', resolve));
  }
  console.log(JSON.stringify({ ready: true, pid: process.pid, ids }));
} else {
  await manager
    .run({ provider: mode === 'deaf' ? 'deaf' : 'slow', workdir, env }, 'true')
    .catch((error) => console.log(JSON.stringify({ rejected: error.code })));
}
`;

interface Ready {
  ready: true;
  pid: number;
  ids?: string[];
  dir?: string;
}

/** Starts the child through sh, so that its status is what a shell sees (128+N for signal N). */
function startChild(script: string, args: string[], tmp: string) {
  return execa('sh', ['-c', 'node "$@"; echo "status=$?"', 'sh', script, ...args], {
    reject: false,
    timeout: CHILD_TIMEOUT_MS,
    env: { TMPDIR: tmp },
    extendEnv: true,
  });
}

/** Cgroup dirs are `<owner pid>-<instance id>` (see cgroupName). */
function instanceCgroups(ids: readonly string[]): string[] {
  return encageCgroups().filter((dir) => ids.some((id) => path.basename(dir).endsWith(`-${id}`)));
}

describe('cleanup on termination signals (a Manager in a child process)', () => {
  let scratch: string;
  let script: string;
  beforeAll(async () => {
    scratch = await createScriptsDir('signals');
    script = await writeChildScript(scratch, 'signal-child', SIGNAL_CHILD);
  });
  afterAll(() => rm(scratch, { recursive: true, force: true }));

  async function fresh(label: string) {
    return {
      tmp: await mkdtemp(path.join(scratch, `${label}-tmp-`)),
      workdir: await mkdtemp(path.join(scratch, `${label}-workdir-`)),
      marker: createMarker(label),
    };
  }

  it.each(['SIGTERM', 'SIGINT'] as const)(
    'on %s removes every temp dir, cgroup and process of its instances, then dies of it',
    async (signal) => {
      const { tmp, workdir, marker } = await fresh(`prepared-${signal}`);
      const child = startChild(
        script,
        ['prepared', workdir, marker, BWRAP_ENABLED ? 'yes' : 'no'],
        tmp,
      );
      const ready = await readyLine<Ready>(child);
      const ids = ready.ids ?? [];
      // Positive controls: all of it exists before the signal.
      expect((await entriesOf(tmp)).length).toBe(ids.length);
      if (BWRAP_ENABLED) expect(instanceCgroups(ids).length).toBeGreaterThan(0);
      expect(processesWith(marker).length).toBeGreaterThan(0);
      process.kill(ready.pid, signal);
      const result = await child;
      expect(result.timedOut, 'hung').toBe(false);
      expect(result.stdout).toContain(`status=${SIGNAL_EXIT[signal]}`);
      expect(await entriesOf(tmp)).toEqual([]);
      expect(instanceCgroups(ids)).toEqual([]);
      expect(await emptyWithin(() => processesWith(marker), 5_000)).toEqual([]);
    },
    CHILD_TIMEOUT_MS,
  );

  it(
    'waits for a prepare under way to wind down, even through a second signal',
    async () => {
      const { tmp, workdir, marker } = await fresh('preparing');
      const child = startChild(script, ['preparing', workdir, marker, 'no'], tmp);
      const ready = await readyLine<Ready>(child);
      expect(ready.dir && existsSync(ready.dir)).toBe(true);
      process.kill(ready.pid, 'SIGTERM');
      await sleep(20);
      process.kill(ready.pid, 'SIGTERM'); // absorbed: cleanup runs once and is not cut short
      const result = await child;
      expect(result.stdout).toContain(`status=${SIGNAL_EXIT.SIGTERM}`);
      expect(await entriesOf(tmp)).toEqual([]);
    },
    CHILD_TIMEOUT_MS,
  );

  it(
    'still dies of the signal when a prepare ignores the abort',
    async () => {
      const { tmp, workdir, marker } = await fresh('deaf');
      const child = startChild(script, ['deaf', workdir, marker, 'no'], tmp);
      const ready = await readyLine<Ready>(child);
      process.kill(ready.pid, 'SIGTERM');
      const result = await child;
      expect(result.timedOut, 'hung').toBe(false);
      expect(result.stdout).toContain(`status=${SIGNAL_EXIT.SIGTERM}`);
      // The deaf provider's own dir stays: a provider that ignores abort cannot be cleaned up for.
      if (ready.dir) await rm(ready.dir, { recursive: true, force: true });
    },
    CHILD_TIMEOUT_MS,
  );
});
