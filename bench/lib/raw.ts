import { spawn, type StdioOptions } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import path from 'node:path';
import type { Command } from 'encage';

export interface RawOptions {
  readonly env?: NodeJS.ProcessEnv;
  readonly cwd?: string;
  /** A file opened read-only and passed to the child as fd 3 (bwrap's `--seccomp 3`). */
  readonly fd3Path?: string;
}

/**
 * The reference way to run a program: child_process.spawn, stdout/stderr piped and read (as
 * execa does for Manager.run), settled on `close`. Rejects on a non-zero exit so a broken
 * reference can never pass for a fast one.
 */
export function spawnRaw(
  file: string,
  args: readonly string[],
  options: RawOptions = {},
): Promise<void> {
  const fd = options.fd3Path === undefined ? undefined : openSync(options.fd3Path, 'r');
  const stdio: StdioOptions = ['ignore', 'pipe', 'pipe'];
  if (fd !== undefined) stdio.push(fd);
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { env: options.env ?? {}, cwd: options.cwd, stdio });
    if (fd !== undefined) closeSync(fd);
    let output = '';
    child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (code === 0) resolve();
      else
        reject(
          new Error(
            `bench: ${file} ${args.join(' ').slice(0, 200)} failed (${signal ?? code}): ${output.trim().slice(0, 500)}`,
          ),
        );
    });
  });
}

/** bwrap exactly as the provider would start it, without encage's wrapper around it. */
export interface RawBwrap {
  readonly file: string;
  readonly args: readonly string[];
  readonly seccompPath: string;
  readonly cwd: string;
}

/**
 * Extracts the bwrap argv from a bwrap instance's Command. The Command is
 * `/bin/sh -c WRAPPER $0 <seccomp file> <status file> <n> <n cgroup.procs files> <bwrap> <bwrap
 * args...>`: the wrapper only opens the seccomp file on fd 3 and the status file on fd 4 (bwrap's
 * `--json-status-fd`), records its pid and joins cgroups.
 */
export function rawBwrapFrom(command: Command): RawBwrap {
  const [dashC, , , seccompPath, statusFile, count, ...rest] = command.args;
  const procs = Number(count);
  const file = rest[procs];
  if (
    dashC !== '-c' ||
    seccompPath === undefined ||
    !seccompPath.endsWith('.bpf') ||
    statusFile?.endsWith('.json') !== true ||
    !Number.isInteger(procs) ||
    file === undefined ||
    path.basename(file) !== 'bwrap'
  ) {
    throw new Error(
      `bench: the bwrap Command no longer has the shape bench/lib/raw.ts expects (${command.file} ${command.args.slice(0, 6).join(' ')} ...). Update rawBwrapFrom.`,
    );
  }
  return { file, args: rest.slice(procs + 1), seccompPath, cwd: command.cwd };
}

/** Runs the raw bwrap reference once. */
export function runRawBwrap(raw: RawBwrap): Promise<void> {
  return spawnRaw(raw.file, raw.args, { cwd: raw.cwd, fd3Path: raw.seccompPath });
}
