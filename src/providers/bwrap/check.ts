import { execFile } from 'node:child_process';
import type { Availability } from '../../provider.js';
import { NAMESPACE_FLAGS } from './args.js';
import type { CgroupMode } from './cgroups.js';
import { seccompArchFor } from './seccomp.js';

const CHECK_TIMEOUT_MS = 10_000;

/** Starts bwrap for real with the sandbox's namespace flags and says why it fails, with the fix. */
export async function checkBwrap(bwrapPath: string, cgroups: CgroupMode): Promise<Availability> {
  if (seccompArchFor(process.arch) === undefined) {
    return {
      available: false,
      reason: `no seccomp filter for ${process.arch}; bwrap runs only on x64 and arm64 here`,
    };
  }
  // The sandbox's own namespace flags with network "none" (the strictest set) and its /proc and
  // /dev mounts: what a host can refuse. The root is one bind of `/` rather than the sandbox's
  // ~30 bind mounts, which cannot fail (they are `-try`) but would double the probe's time:
  // check() is on the path of every CLI run.
  const result = await probe(bwrapPath, [
    ...NAMESPACE_FLAGS,
    '--unshare-net',
    '--ro-bind',
    '/',
    '/',
    '--proc',
    '/proc',
    '--dev',
    '/dev',
    '--',
    'true',
  ]);
  if (result.exitCode !== 0) return { available: false, reason: explainFailure(bwrapPath, result) };
  const limits =
    cgroups.kind === 'none'
      ? `not enforceable (${cgroups.why}); specs with memory/pids/cpus are refused`
      : `cgroup ${cgroups.kind} at ${cgroups.root}`;
  return {
    available: true,
    reason: 'bwrap starts user, pid, net, ipc and uts namespaces',
    details: {
      limits,
      seccomp: `BPF filter for ${process.arch} (EPERM on ptrace, mount, bpf, io_uring, TIOCSTI, ...)`,
      path: bwrapPath,
    },
  };
}

interface ProbeResult {
  readonly exitCode: number | undefined;
  /** The spawn error's code (ENOENT, EACCES), if bwrap could not be started at all. */
  readonly code: string | undefined;
  readonly stdout: string;
  readonly stderr: string;
  readonly shortMessage: string | undefined;
}

/**
 * Runs bwrap with an empty environment and no stdin. node:child_process, not execa: this is on
 * the path of every CLI run and only needs an exit status and the output.
 */
function probe(file: string, args: readonly string[]): Promise<ProbeResult> {
  return new Promise((resolve) => {
    const child = execFile(
      file,
      args,
      { env: {}, timeout: CHECK_TIMEOUT_MS, killSignal: 'SIGKILL', encoding: 'utf8' },
      (error, stdout, stderr) => {
        const failure = error as (NodeJS.ErrnoException & { killed?: boolean }) | null;
        const spawnCode = typeof failure?.code === 'string' ? failure.code : undefined;
        resolve({
          exitCode: spawnCode === undefined ? (child.exitCode ?? undefined) : undefined,
          code: spawnCode,
          stdout,
          stderr,
          shortMessage: failure?.killed
            ? `timed out after ${CHECK_TIMEOUT_MS} ms`
            : (failure?.message.split('\n')[0] ?? undefined),
        });
      },
    );
    child.stdin?.end();
  });
}

function explainFailure(bwrapPath: string, result: ProbeResult): string {
  const stderr = (result.stderr ?? '').trim();
  if (result.code === 'ENOENT')
    return `"${bwrapPath}" not found. Install bubblewrap: apt-get install bubblewrap`;
  if (result.code === 'EACCES')
    return `"${bwrapPath}" is not executable. Fix its permissions (chmod 755) or reinstall bubblewrap`;
  if (/uid map|namespace|Operation not permitted|Permission denied/i.test(stderr)) {
    return `user namespaces are refused (${stderr.split('\n')[0]}). Allow them: sysctl -w kernel.unprivileged_userns_clone=1; on Ubuntu 23.10+ also sysctl -w kernel.apparmor_restrict_unprivileged_userns=0 or give bwrap an AppArmor profile with "userns,"`;
  }
  return `bwrap failed to start a sandbox: ${stderr.split('\n')[0] || result.shortMessage || 'unknown error'}`;
}
