import { readdirSync, readFileSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { execa } from 'execa';

const CGROUP_MOUNT = '/sys/fs/cgroup';
/** How long leftovers of other, concurrently running test files get to go away. */
const SETTLE_MS = 10_000;
const SETTLE_POLL_MS = 250;

/** Pids (other than this process) whose argv or environment contains `marker`. */
export function processesWith(marker: string): { pid: number; cmdline: string }[] {
  const found: { pid: number; cmdline: string }[] = [];
  for (const entry of readdirSync('/proc')) {
    const pid = Number(entry);
    if (!Number.isInteger(pid) || pid === process.pid) continue;
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8').replaceAll('\0', ' ');
      const environ = readFileSync(`/proc/${entry}/environ`, 'utf8');
      if (cmdline.includes(marker) || environ.includes(marker)) found.push({ pid, cmdline });
    } catch {
      // exited while we looked
    }
  }
  return found;
}

/** Mount entries, in this process's namespace or any other process's, that mention `marker`. */
export function mountsWith(marker: string): string[] {
  const found = new Set<string>();
  for (const entry of ['self', ...readdirSync('/proc').filter((name) => /^\d+$/.test(name))]) {
    try {
      for (const line of readFileSync(`/proc/${entry}/mountinfo`, 'utf8').split('\n')) {
        if (line.includes(marker)) found.add(line);
      }
    } catch {
      // exited while we looked
    }
  }
  return [...found];
}

/** Every entry of `dir` (the private TMPDIR a test gives its providers). */
export async function entriesOf(dir: string): Promise<string[]> {
  return (await readdir(dir).catch(() => [] as string[])).map((name) => path.join(dir, name));
}

/** `/tmp/encage-*` and the like: entries of `dir` whose name starts with `prefix`. */
export function tempDirsIn(dir: string, prefix = 'encage-'): string[] {
  try {
    return readdirSync(dir)
      .filter((name) => name.startsWith(prefix))
      .map((name) => path.join(dir, name));
  } catch {
    return [];
  }
}

/** Instance cgroups: /sys/fs/cgroup/<controller>/encage/<id> (v1) or /sys/fs/cgroup/encage/<id> (v2). */
export function encageCgroups(): string[] {
  const parents = [path.join(CGROUP_MOUNT, 'encage')];
  try {
    for (const controller of readdirSync(CGROUP_MOUNT))
      parents.push(path.join(CGROUP_MOUNT, controller, 'encage'));
  } catch {
    return [];
  }
  const found: string[] = [];
  for (const parent of parents) {
    try {
      for (const entry of readdirSync(parent, { withFileTypes: true }))
        if (entry.isDirectory()) found.push(path.join(parent, entry.name));
    } catch {
      // no such hierarchy
    }
  }
  return found;
}

/** The spec label that tags a test's containers (docker keeps it as `encage.label.<name>`). */
export const MARKER_LABEL = 'rel-marker';

/**
 * Ids of encage containers (running or not) carrying `marker` in their MARKER_LABEL, or of every
 * encage container without a marker; undefined when docker is not there.
 */
export async function encageContainers(marker?: string): Promise<string[] | undefined> {
  const label =
    marker === undefined ? 'label=encage.instance' : `label=encage.label.${MARKER_LABEL}=${marker}`;
  const result = await execa('docker', ['ps', '-a', '-q', '--no-trunc', '--filter', label], {
    reject: false,
    timeout: 30_000,
  });
  if (result.failed) return undefined;
  return result.stdout.split('\n').filter(Boolean);
}

/**
 * What `list()` shows now that it did not show in `before`, once it stops shrinking: entries
 * that other test files create concurrently go away; leaks stay. Resolves to the leaks.
 */
export async function settledNew<T>(
  before: readonly T[],
  list: () => T[] | Promise<T[]>,
  settleMs = SETTLE_MS,
): Promise<T[]> {
  const known = new Set(before);
  const deadline = Date.now() + settleMs;
  for (;;) {
    const fresh = (await list()).filter((entry) => !known.has(entry));
    if (fresh.length === 0 || Date.now() >= deadline) return fresh;
    await sleep(SETTLE_POLL_MS);
  }
}

/** Polls `list` until it is empty or `ms` passed; returns what is left. */
export async function emptyWithin<T>(list: () => T[] | Promise<T[]>, ms: number): Promise<T[]> {
  const deadline = Date.now() + ms;
  for (;;) {
    const left = await list();
    if (left.length === 0 || Date.now() >= deadline) return left;
    await sleep(SETTLE_POLL_MS);
  }
}

/** Where a test looks for leftovers, and what was there before it started. */
export interface LeakScope {
  /** In every sandboxed process's argv or environment. */
  readonly marker: string;
  /** The private TMPDIR given to the providers: temp dirs and mounts live under it. */
  readonly tmp: string;
  readonly cgroupsBefore: readonly string[];
  /** Whether containers labelled with the marker are looked for. */
  readonly docker: boolean;
}

export interface LeakReport {
  readonly processes: string[];
  readonly mounts: string[];
  readonly tempDirs: string[];
  readonly cgroups: string[];
  readonly containers: string[];
  /** What was looked at, for the printed summary. */
  readonly checked: Record<string, number | string>;
}

export function openLeakScope(marker: string, tmp: string, withDocker: boolean): LeakScope {
  return {
    marker,
    tmp,
    cgroupsBefore: encageCgroups(),
    docker: withDocker,
  };
}

/**
 * Everything the scope's runs left behind: processes and containers (after `graceMs` for dying
 * ones), mounts and temp dirs under the private TMPDIR, and new instance cgroups.
 */
export async function findLeaks(scope: LeakScope, graceMs = 5_000): Promise<LeakReport> {
  const processes = await emptyWithin(() => processesWith(scope.marker), graceMs);
  const mounts = mountsWith(scope.tmp);
  const tempDirs = await entriesOf(scope.tmp);
  const cgroups = await settledNew(scope.cgroupsBefore, encageCgroups);
  const containers = scope.docker
    ? await emptyWithin(async () => (await encageContainers(scope.marker)) ?? [], graceMs)
    : [];
  return {
    processes: processes.map(({ pid, cmdline }) => `${pid} ${cmdline.slice(0, 200)}`),
    mounts,
    tempDirs,
    cgroups,
    containers,
    checked: {
      procEntries: readdirSync('/proc').filter((name) => /^\d+$/.test(name)).length,
      mountinfoFiles: readdirSync('/proc').filter((name) => /^\d+$/.test(name)).length + 1,
      tmp: scope.tmp,
      cgroupsSeen: encageCgroups().length,
      containersLabelled: scope.docker ? `encage.label.${MARKER_LABEL}=${scope.marker}` : 'no',
    },
  };
}

/** The leftovers alone, for `expect(...).toEqual(NO_LEAKS)`. */
export function leftovers(report: LeakReport): Omit<LeakReport, 'checked'> {
  const { checked: _checked, ...rest } = report;
  return rest;
}

export const NO_LEAKS = { processes: [], mounts: [], tempDirs: [], cgroups: [], containers: [] };

/** Names of containers (running or not) whose name is exactly `name`. */
export async function containersNamed(name: string): Promise<string[]> {
  const result = await execa(
    'docker',
    ['ps', '-a', '--format', '{{.Names}}', '--filter', `name=^${name}$`],
    {
      timeout: 30_000,
    },
  );
  return result.stdout.split('\n').filter(Boolean);
}

/** Polls `list` until it holds at least `count` entries or `ms` passed; returns the last list. */
export async function atLeastWithin<T>(
  list: () => T[] | Promise<T[]>,
  count: number,
  ms: number,
): Promise<T[]> {
  const deadline = Date.now() + ms;
  for (;;) {
    const seen = await list();
    if (seen.length >= count || Date.now() >= deadline) return seen;
    await sleep(SETTLE_POLL_MS);
  }
}
