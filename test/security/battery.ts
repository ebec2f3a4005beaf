import { randomInt } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { expect } from 'vitest';
import { Manager } from '../../src/manager/manager.js';
import type { RunOptions } from '../../src/manager/options.js';
import type { RunResult } from '../../src/manager/result.js';
import { cgroupName } from '../../src/providers/bwrap/cgroups.js';
import { createBwrapProvider } from '../../src/providers/bwrap/index.js';
import type { SandboxSpecInput } from '../../src/spec.js';

const CGROUP_ROOT = '/sys/fs/cgroup';
const STRAGGLER_WAIT_MS = 3_000;
const POLL_MS = 50;

/**
 * One escape-test file's shared state: a real bwrap Manager, a private host root (also the
 * TMPDIR, so the instance dirs it finds are ours alone), and a nonce that every sandboxed script
 * carries in its argv so that a surviving process can be found on the host.
 */
export interface Battery {
  readonly manager: Manager;
  /** Host dir holding the workdirs, grants and instance temp dirs of this file. */
  readonly root: string;
  /** Digits only, so it also fits in `sleep 300.<nonce>`. */
  readonly nonce: string;
  readonly instanceIds: string[];
  /** A fresh host dir under the root, with the given files (relative path -> contents). */
  dir(name: string, files?: Record<string, string>): Promise<string>;
  /** Runs `/bin/sh -c script` in a bwrap sandbox (workdir defaults to a fresh dir). */
  run(script: string, spec?: SandboxSpecInput, options?: RunOptions): Promise<RunResult>;
  /** Asserts that no process, mount, cgroup or temp dir of this battery is left, then cleans up. */
  close(): Promise<void>;
}

export async function createBattery(label: string): Promise<Battery> {
  const nonce = String(randomInt(100_000_000, 1_000_000_000));
  const root = await mkdtemp(`/tmp/encage-sec-${label}-`);
  const tmp = path.join(root, 'tmp');
  await mkdir(tmp);
  // Instance dirs land in os.tmpdir(): a private one makes the leftover check exact.
  const hostTmpdir = process.env.TMPDIR;
  process.env.TMPDIR = tmp;
  const manager = new Manager({ providers: [createBwrapProvider()], cleanupOnSignal: false });
  const instanceIds: string[] = [];
  let dirs = 0;
  const battery: Battery = {
    manager,
    root,
    nonce,
    instanceIds,
    async dir(name, files = {}) {
      const dir = path.join(root, `${name}-${dirs++}`);
      await mkdir(dir);
      for (const [relative, contents] of Object.entries(files)) {
        await mkdir(path.dirname(path.join(dir, relative)), { recursive: true });
        await writeFile(path.join(dir, relative), contents);
      }
      return dir;
    },
    async run(script, spec = {}, options = {}) {
      const workdir = spec.workdir ?? (await battery.dir('wd'));
      const result = await manager.run(
        { provider: 'bwrap', ...spec, workdir },
        '/bin/sh',
        ['-c', `: encage-sec-${nonce}; ${script}`],
        options,
      );
      instanceIds.push(result.instanceId);
      return result;
    },
    async close() {
      await manager.close();
      try {
        expect(await waitForNoProcess(nonce), 'sandbox processes left on the host').toEqual([]);
        expect(leftoverCgroups(instanceIds), 'cgroup dirs left').toEqual([]);
        const mounts = readFileSync('/proc/self/mountinfo', 'utf8')
          .split('\n')
          .filter((line) => line.includes(root) || line.includes('encage-bwrap-'));
        expect(mounts, 'mounts left on the host').toEqual([]);
        const temps = readdirSync(tmp).filter((name) => name.startsWith('encage-bwrap-'));
        expect(temps, 'instance temp dirs left').toEqual([]);
      } finally {
        if (hostTmpdir === undefined) delete process.env.TMPDIR;
        else process.env.TMPDIR = hostTmpdir;
        await rm(root, { recursive: true, force: true });
      }
    },
  };
  return battery;
}

/** Host processes (other than this one) whose argv contains `marker`. */
export function processesWith(marker: string): string[] {
  const found: string[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8').replaceAll('\0', ' ');
      if (cmdline.includes(marker)) found.push(`${entry}: ${cmdline.slice(0, 120)}`);
    } catch {
      // exited while we looked
    }
  }
  return found;
}

/** Gives a dying sandbox a moment (pid-namespace teardown is asynchronous), then lists survivors. */
export async function waitForNoProcess(marker: string): Promise<string[]> {
  const deadline = Date.now() + STRAGGLER_WAIT_MS;
  let found = processesWith(marker);
  while (found.length > 0 && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    found = processesWith(marker);
  }
  return found;
}

function leftoverCgroups(ids: readonly string[]): string[] {
  if (!existsSync(CGROUP_ROOT)) return [];
  const controllers = ['', ...readdirSync(CGROUP_ROOT)];
  return controllers.flatMap((controller) =>
    ids
      .map((id) => path.join(CGROUP_ROOT, controller, 'encage', cgroupName(id)))
      .filter((dir) => existsSync(dir)),
  );
}

/** The sandbox printed `marker` on a line of its own: proof it ran that far. */
export function expectMarker(result: RunResult, marker: string): void {
  const context = `stdout lacks ${JSON.stringify(marker)}\n--- stdout\n${result.stdout}\n--- stderr\n${result.stderr}`;
  expect(result.stdout.split('\n'), context).toContain(marker);
}
