// fsp rather than node:fs/promises: in the CLI bundle that module loads on first use.
import { accessSync, constants, existsSync, promises as fsp, readFileSync } from 'node:fs';
import path from 'node:path';
import { EncageError } from '../../errors.js';
import type { Limits } from '../../spec.js';

const CGROUP_MOUNT = '/sys/fs/cgroup';
const CPU_PERIOD_US = 100_000;
const RMDIR_ATTEMPTS = 50;
const RMDIR_RETRY_MS = 20;
/** The controllers limits use: one v1 hierarchy each, or enabled in the one v2 tree. */
const CONTROLLERS = ['memory', 'pids', 'cpu'] as const;

/** How this host lets us enforce memory, pids and cpus; `none` means such specs are refused. */
export type CgroupMode =
  { kind: 'v1'; root: string } | { kind: 'v2'; root: string } | { kind: 'none'; why: string };

/**
 * Detects a usable cgroup hierarchy (v1 as root, or v2 with the controllers delegated to us).
 * Synchronous: a few stat calls, once per provider, on the way to check()'s probe.
 */
export function detectCgroups(root = CGROUP_MOUNT): CgroupMode {
  if (existsSync(path.join(root, 'cgroup.controllers'))) {
    const controllers = readFileSync(path.join(root, 'cgroup.subtree_control'), 'utf8');
    const missing = CONTROLLERS.filter((c) => !controllers.split(/\s+/).includes(c));
    try {
      accessSync(root, constants.W_OK);
    } catch {
      return {
        kind: 'none',
        why: `cgroup v2 at ${root} is not writable (run as root or delegate a subtree)`,
      };
    }
    if (missing.length)
      return { kind: 'none', why: `cgroup v2 controllers not enabled: ${missing.join(', ')}` };
    return { kind: 'v2', root };
  }
  const needed = CONTROLLERS.map((c) => path.join(root, c));
  if (!needed.every((dir) => existsSync(dir)))
    return { kind: 'none', why: 'no cgroup v1 memory/pids/cpu hierarchies' };
  try {
    for (const dir of needed) accessSync(dir, constants.W_OK);
  } catch {
    return { kind: 'none', why: 'cgroup v1 hierarchies are not writable (run as root)' };
  }
  return { kind: 'v1', root };
}

/** `<owner pid>-<instance id>`: the instance's cgroup dir name under `encage/`. */
export function cgroupName(id: string, pid = process.pid): string {
  return `${pid}-${id}`;
}

/** The owner pid in a cgroup dir name made by cgroupName, if it is one. */
export function cgroupOwner(name: string): number | undefined {
  const match = /^(\d+)-[0-9a-f]+$/.exec(name);
  return match ? Number(match[1]) : undefined;
}

/** Where instance cgroups live: `encage/` in the controller's v1 hierarchy, or in the v2 tree. */
export function encageParent(
  mode: { kind: 'v1' | 'v2'; root: string },
  controller: string,
): string {
  return mode.kind === 'v1'
    ? path.join(mode.root, controller, 'encage')
    : path.join(mode.root, 'encage');
}

/** Every `encage/` parent that instance cgroups can be in. */
export function encageParents(mode: { kind: 'v1' | 'v2'; root: string }): string[] {
  return [...new Set(CONTROLLERS.map((controller) => encageParent(mode, controller)))];
}

/** The cgroup dirs of one instance and the `cgroup.procs` files the wrapper joins. */
export interface InstanceCgroup {
  readonly dirs: readonly string[];
  readonly procsFiles: readonly string[];
}

/** Creates the instance's cgroup(s) and writes the limits; returns undefined when no limit is set. */
export async function createCgroup(
  mode: CgroupMode,
  id: string,
  limits: Limits,
): Promise<InstanceCgroup | undefined> {
  const wanted =
    limits.memoryBytes !== undefined || limits.pids !== undefined || limits.cpus !== undefined;
  if (!wanted) return undefined;
  if (mode.kind === 'none') {
    throw new EncageError(
      'UNSUPPORTED_SPEC',
      `[bwrap] spec.limits: memory/pids/cpus limits cannot be enforced here: ${mode.why}. Remove the limits or run where cgroups are available.`,
      { path: 'spec.limits' },
    );
  }
  const settings: [controller: string, file: string, value: string][] = [];
  const v1 = mode.kind === 'v1';
  if (limits.memoryBytes !== undefined) {
    settings.push([
      'memory',
      v1 ? 'memory.limit_in_bytes' : 'memory.max',
      String(limits.memoryBytes),
    ]);
    if (!v1) settings.push(['memory', 'memory.swap.max', '0']);
  }
  if (limits.pids !== undefined) settings.push(['pids', 'pids.max', String(limits.pids)]);
  if (limits.cpus !== undefined) {
    const quota = String(Math.max(1000, Math.round(limits.cpus * CPU_PERIOD_US)));
    if (v1)
      settings.push(
        ['cpu', 'cpu.cfs_period_us', String(CPU_PERIOD_US)],
        ['cpu', 'cpu.cfs_quota_us', quota],
      );
    else settings.push(['cpu', 'cpu.max', `${quota} ${CPU_PERIOD_US}`]);
  }
  const controllers = [...new Set(settings.map(([controller]) => controller))];
  // Named by owner pid too, so that `encage gc` removes it once its Manager is gone.
  const name = cgroupName(id);
  const dirFor = (controller: string): string => path.join(encageParent(mode, controller), name);
  const dirs = [...new Set(controllers.map(dirFor))];
  const cgroup = { dirs, procsFiles: dirs.map((dir) => path.join(dir, 'cgroup.procs')) };
  try {
    if (!v1) await enableV2Parent(mode.root);
    for (const dir of dirs) await fsp.mkdir(dir, { recursive: true });
    for (const [controller, file, value] of settings)
      await fsp.writeFile(path.join(dirFor(controller), file), value);
    if (v1 && limits.memoryBytes !== undefined) {
      // Without swap accounting the file is absent; memory.limit_in_bytes alone then bounds RAM.
      await fsp
        .writeFile(
          path.join(dirFor('memory'), 'memory.memsw.limit_in_bytes'),
          String(limits.memoryBytes),
        )
        .catch(() => undefined);
    }
  } catch (error) {
    await removeCgroup(cgroup);
    throw new EncageError(
      'PREPARE_FAILED',
      `[bwrap] cannot set up the cgroup for limits: ${(error as Error).message}`,
      { cause: error, path: 'spec.limits' },
    );
  }
  return cgroup;
}

async function enableV2Parent(root: string): Promise<void> {
  const parent = encageParent({ kind: 'v2', root }, '');
  await fsp.mkdir(parent, { recursive: true });
  await fsp
    .writeFile(path.join(parent, 'cgroup.subtree_control'), '+memory +pids +cpu')
    .catch(() => undefined);
}

/** Kills whatever is left in the cgroup and removes it. Missing dirs are fine. */
export async function removeCgroup(cgroup: InstanceCgroup): Promise<void> {
  for (const dir of cgroup.dirs) {
    for (let attempt = 0; attempt < RMDIR_ATTEMPTS; attempt++) {
      try {
        await fsp.rmdir(dir);
        break;
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        if (code === 'ENOENT') break;
        if (code !== 'EBUSY' || attempt === RMDIR_ATTEMPTS - 1) throw error;
        await killMembers(dir);
        await new Promise((resolve) => setTimeout(resolve, RMDIR_RETRY_MS));
      }
    }
  }
}

async function killMembers(dir: string): Promise<void> {
  const procs = await fsp.readFile(path.join(dir, 'cgroup.procs'), 'utf8').catch(() => '');
  for (const pid of procs.split('\n').filter(Boolean)) {
    try {
      process.kill(Number(pid), 'SIGKILL');
    } catch {
      // already gone
    }
  }
}
