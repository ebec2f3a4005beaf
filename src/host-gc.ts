import { readdirSync, rmdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { cgroupOwner, detectCgroups, encageParents } from './providers/bwrap/cgroups.js';
import { readStartTime } from './providers/docker/owner.js';
import { removeDir } from './util/temp-dir.js';

/** What `collectHostGarbage` removed and kept. */
export interface HostGcReport {
  /** Instance temp dirs whose owning process is gone. */
  readonly removedDirs: string[];
  /** Empty bwrap cgroups with no live instance behind them. */
  readonly removedCgroups: string[];
  /** Dirs (and cgroups) of owners still alive. */
  readonly kept: number;
}

/** `encage-<provider>-<pid>-XXXXXX`, as createPrivateDir names them. */
const DIR_PATTERN = /^encage-([a-z][a-z0-9-]*?)-(\d+)-[A-Za-z0-9]{6}$/;

/** As `encage gc` judges container owners: alive while /proc shows the pid. */
function isAlive(pid: number): boolean {
  return readStartTime(pid) !== undefined;
}

/**
 * Removes what a Manager killed with SIGKILL leaves on this host: its instances' temp dirs (in
 * `tmp`) and bwrap's empty cgroups, both named by owner pid. A process it sandboxed is gone
 * already (bwrap dies with its parent); docker containers are `collectGarbage`'s. Anything is
 * kept while its owner pid lives (a reused pid only delays the cleanup), a cgroup also while
 * processes are in it.
 */
export async function collectHostGarbage(tmp = tmpdir()): Promise<HostGcReport> {
  const removedDirs: string[] = [];
  const removedCgroups: string[] = [];
  let kept = 0;
  for (const name of listDir(tmp)) {
    const owner = DIR_PATTERN.exec(name)?.[2];
    if (owner === undefined) continue;
    if (isAlive(Number(owner))) {
      kept += 1;
      continue;
    }
    const dir = path.join(tmp, name);
    await removeDir(dir);
    removedDirs.push(dir);
  }
  for (const cgroup of listCgroups()) {
    const owner = cgroupOwner(path.basename(cgroup));
    if (owner === undefined) continue;
    if (isAlive(owner)) {
      kept += 1;
      continue;
    }
    try {
      rmdirSync(cgroup); // EBUSY while processes are in it: kept
      removedCgroups.push(cgroup);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') kept += 1;
    }
  }
  return { removedDirs, removedCgroups, kept };
}

function listDir(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

/** The instance cgroups under encage's parents, in every hierarchy bwrap uses. */
function listCgroups(): string[] {
  const mode = detectCgroups();
  if (mode.kind === 'none') return [];
  const parents = encageParents(mode);
  return parents.flatMap((parent) => {
    try {
      return readdirSync(parent, { withFileTypes: true })
        .filter((entry) => entry.isDirectory())
        .map((entry) => path.join(parent, entry.name));
    } catch {
      return [];
    }
  });
}
