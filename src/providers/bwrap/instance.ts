import { readFileSync } from 'node:fs';
import path from 'node:path';
import { BaseInstance } from '../../instance-base.js';
import type { Command } from '../../provider.js';
import type { Spec } from '../../spec.js';
import { removeDir } from '../../util/temp-dir.js';
import { removeCgroup, type InstanceCgroup } from './cgroups.js';

/**
 * Joins the cgroups, records its pid (so teardown can find it), then becomes bwrap with the
 * seccomp filter on fd 3. Constant text: every value arrives as a positional argument.
 */
const WRAPPER =
  'f=$1; n=$2; shift 2; echo $$ > "$f.pid" || exit 125; ' +
  'while [ "$n" -gt 0 ]; do echo $$ > "$1" || exit 125; shift; n=$((n-1)); done; exec "$@" 3<"$f"';
const SHELL = '/bin/sh';

export interface BwrapInstanceResources {
  readonly dir: string;
  /** Where the scripts appear in the sandbox. */
  readonly scriptsRoot: string;
  readonly filterPath: string;
  readonly bwrapPath: string;
  readonly bwrapArgs: readonly string[];
  readonly cgroup: InstanceCgroup | undefined;
}

export class BwrapInstance extends BaseInstance {
  readonly provider = 'bwrap';
  readonly root: string;

  constructor(
    readonly id: string,
    private readonly spec: Spec,
    private readonly resources: BwrapInstanceResources,
  ) {
    super(spec.labels);
    this.root = resources.scriptsRoot;
  }

  protected buildCommand(
    cmd: string,
    args: readonly string[],
    env: Readonly<Record<string, string>>,
  ): Command {
    const { filterPath, cgroup, bwrapPath, bwrapArgs } = this.resources;
    const setenv = Object.entries(env).flatMap(([name, value]) => ['--setenv', name, value]);
    const procs = cgroup?.procsFiles ?? [];
    return {
      file: SHELL,
      args: [
        '-c',
        WRAPPER,
        'encage-bwrap',
        filterPath,
        String(procs.length),
        ...procs,
        bwrapPath,
        ...bwrapArgs,
        ...setenv,
        '--',
        cmd,
        ...args,
      ],
      env: {},
      cwd: this.spec.workdir,
    };
  }

  protected async release(): Promise<void> {
    const { dir, filterPath, cgroup } = this.resources;
    killRecorded(`${filterPath}.pid`, dir);
    if (cgroup) await removeCgroup(cgroup);
    await removeDir(dir);
  }
}

/** A few bytes written by the wrapper: read sync, it costs less than a thread-pool round trip. */
function readFileOrEmpty(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return ''; // never started
  }
}

/** Kills the bwrap this instance started, if it still runs; its sandbox dies with it. */
function killRecorded(pidFile: string, dir: string): void {
  const pid = Number(readFileOrEmpty(pidFile).trim());
  if (!Number.isInteger(pid) || pid <= 0) return;
  try {
    // Guard against pid reuse: only a process whose argv names this instance's dir is ours.
    const cmdline = readFileSync(path.join('/proc', String(pid), 'cmdline'), 'utf8');
    if (cmdline.includes(dir)) process.kill(pid, 'SIGKILL');
  } catch {
    // gone already
  }
}
