import { readFileSync } from 'node:fs';
import path from 'node:path';
import { BaseInstance } from '../../instance-base.js';
import type { Command } from '../../provider.js';
import type { Spec } from '../../spec.js';
import { removeDir } from '../../util/temp-dir.js';
import { removeCgroup, type InstanceCgroup } from './cgroups.js';

/**
 * Joins the cgroups, records its pid (so teardown can find it), then becomes bwrap with the
 * seccomp filter on fd 3 and bwrap's JSON status on fd 4, into a file of this command's own: an
 * `exit-code` line there means the command ran; without one, the sandbox never started. Constant
 * text: every value arrives as a positional argument.
 */
const WRAPPER =
  'f=$1; s=$2; n=$3; shift 3; echo $$ > "$f.pid" || exit 125; ' +
  'while [ "$n" -gt 0 ]; do echo $$ > "$1" || exit 125; shift; n=$((n-1)); done; ' +
  'b=$1; shift; exec "$b" --json-status-fd 4 "$@" 3<"$f" 4>"$s"';
const SHELL = '/bin/sh';
/**
 * Inside the sandbox the command is exec'd by a shell, as every provider does: one it cannot find
 * exits 127 and one it cannot execute 126, while bwrap's own failures stay apart (no exit-code).
 */
const EXEC = 'exec "$0" "$@"';

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
  /** bwrap's status file of each command built here. */
  readonly #statusFiles = new WeakMap<Command, string>();
  #commands = 0;

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
    this.#commands += 1;
    const statusFile = path.join(this.resources.dir, `status-${this.#commands}.json`);
    const command: Command = {
      file: SHELL,
      args: [
        '-c',
        WRAPPER,
        'encage-bwrap',
        filterPath,
        statusFile,
        String(procs.length),
        ...procs,
        bwrapPath,
        ...bwrapArgs,
        ...setenv,
        '--',
        SHELL,
        '-c',
        EXEC,
        cmd,
        ...args,
      ],
      env: {},
      cwd: this.spec.workdir,
    };
    this.#statusFiles.set(command, statusFile);
    return command;
  }

  /**
   * A command that ended with a status but left no `exit-code` in bwrap's status file never ran:
   * bwrap (or the wrapper) failed to set the sandbox up, and said why on stderr.
   */
  startFailure(command: Command): string | undefined {
    const statusFile = this.#statusFiles.get(command);
    if (statusFile === undefined) return undefined;
    const status = readFileOrEmpty(statusFile);
    if (status.includes('"exit-code"')) return undefined;
    return status.includes('"child-pid"')
      ? 'bwrap could not set the sandbox up or start the command in it'
      : 'bwrap did not start (the wrapper could not record it, join its cgroups or open its files)';
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
