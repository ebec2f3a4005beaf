import { lstatSync, realpathSync } from 'node:fs';
import path from 'node:path';
import type { Spec } from '../../spec.js';
import { ENGINE_PATHS, grantedPaths, isInside } from '../sandbox-paths.js';
import type { HostEntry } from './layout.js';

/** Size of the private /tmp and HOME when no memory limit bounds them. */
export const DEFAULT_TMPFS_BYTES = 1024 ** 3;
const SANDBOX_HOSTNAME = 'encage';
/** The seccomp filter arrives on this fd (see the wrapper in instance.ts). */
export const SECCOMP_FD = 3;

/** Namespaces and privileges of every sandbox (the network namespace depends on the spec). */
export const NAMESPACE_FLAGS = [
  '--unshare-user',
  // No nested user namespaces: they hand full capabilities over new namespaces to the command,
  // a large kernel attack surface that agents' tools do not need.
  '--disable-userns',
  '--unshare-pid',
  '--unshare-ipc',
  '--unshare-uts',
  '--unshare-cgroup-try',
  '--die-with-parent',
  '--cap-drop',
  'ALL',
] as const;

/** System dirs read-only; merged-/usr symlinks recreated; /etc entries bound (their targets followed). */
export function layoutArgs(layout: readonly HostEntry[]): string[] {
  return layout.flatMap((entry) =>
    entry.kind === 'symlink' && !entry.path.startsWith('/etc/')
      ? ['--symlink', entry.target, entry.path]
      : ['--ro-bind-try', entry.path, entry.path],
  );
}

export interface BwrapArgsContext {
  readonly layout: readonly HostEntry[];
  readonly scriptsDir: string;
  /** Where scriptsDir appears in the sandbox (`scriptsRootFor(spec)`). */
  readonly scriptsRoot: string;
  readonly home: string | undefined;
}

/**
 * Builds the bwrap argv (without the command) for a spec. Pure apart from reading the deny
 * paths' type. Order matters: a later mount covers an earlier one. Mounts go shallow to deep,
 * so a grant of a parent (even "/") never covers the fresh /proc, /dev, private /tmp and HOME,
 * or the scripts; at equal depth a grant comes last and wins. Deny masks come after all.
 */
export function buildBwrapArgs(spec: Spec, context: BwrapArgsContext): string[] {
  const grants = grantedPaths(spec);
  const grantsRoot = grants.includes('/');
  const args: string[] = [
    ...NAMESPACE_FLAGS,
    ...(spec.network === 'none' ? ['--unshare-net'] : []),
    '--hostname',
    SANDBOX_HOSTNAME,
    '--clearenv',
    // With "/" granted the host root shows the system dirs already.
    ...(grantsRoot ? [] : layoutArgs(context.layout)),
  ];
  const tmpfsBytes = String(spec.limits.memoryBytes ?? DEFAULT_TMPFS_BYTES);
  const denied = [
    ...spec.deny.flatMap(resolveDenied),
    ...ENGINE_PATHS.flatMap(resolveDenied).filter((engine) =>
      grants.some((grant) => isInside(engine.path, grant)),
    ),
  ].sort((a, b) => depth(a.path) - depth(b.path));
  const pinned = [...spec.readOnly, ...denied.map((hidden) => hidden.path)].flatMap(
    (protectedPath) => writableAncestors(spec, protectedPath),
  );
  const mounts: [target: string, ...flags: string[]][] = [
    ['/proc', '--proc', '/proc'],
    // bwrap leaves /proc/sys writable, and for a sandbox that is host uid 0 (encage run as
    // root) that means host-wide sysctls such as kernel.core_pattern: make it read-only.
    ['/proc/sys', '--ro-bind', '/proc/sys', '/proc/sys'],
    ['/dev', '--dev', '/dev'],
    ['/tmp', '--size', tmpfsBytes, '--tmpfs', '/tmp'],
    ['/home', '--size', tmpfsBytes, '--tmpfs', '/home'],
    ...homeMounts(spec, context.home, tmpfsBytes),
    [context.scriptsRoot, '--ro-bind', context.scriptsDir, context.scriptsRoot],
    ...spec.readOnly.map((p) => [p, '--ro-bind', p, p] as [string, ...string[]]),
    ...spec.readWrite.map((p) => [p, '--bind', p, p] as [string, ...string[]]),
    [spec.workdir, '--bind', spec.workdir, spec.workdir],
    ...[...new Set(pinned)].map((p) => [p, '--bind', p, p] as [string, ...string[]]),
  ];
  // Array.prototype.sort is stable: equal depths keep the order above.
  mounts.sort(([a], [b]) => depth(a) - depth(b));
  for (const [, ...flags] of mounts) args.push(...flags);
  for (const hidden of denied) {
    if (hidden.isDir) args.push('--tmpfs', hidden.path, '--remount-ro', hidden.path);
    else args.push('--ro-bind', '/dev/null', hidden.path);
  }
  args.push('--chdir', spec.workdir, '--seccomp', String(SECCOMP_FD));
  return args;
}

/** A private HOME: a dir in the private /tmp or /home, else its own tmpfs unless it is granted. */
function homeMounts(
  spec: Spec,
  home: string | undefined,
  tmpfsBytes: string,
): [string, ...string[]][] {
  if (home === undefined || !path.isAbsolute(home) || path.normalize(home) === '/') return [];
  const target = path.normalize(home);
  if (isInside(target, '/tmp') || isInside(target, '/home')) return [[target, '--dir', target]];
  const granted = grantedPaths(spec).some((grant) => isInside(target, grant));
  return granted ? [] : [[target, '--size', tmpfsBytes, '--tmpfs', target]];
}

/**
 * The dirs between a read-only or denied path and the writable grant around it. Each is bound
 * onto itself because a mount point cannot be renamed: else the sandbox could move the parent
 * aside and put its own files (e.g. `.git/hooks`) where the protected path was.
 */
function writableAncestors(spec: Spec, protectedPath: string): string[] {
  const around = [...spec.readOnly, ...spec.readWrite, spec.workdir]
    .filter((grant) => grant !== protectedPath && isInside(protectedPath, grant))
    .sort((a, b) => depth(b) - depth(a))[0];
  // Same path in several lists: the writable mount comes last and wins.
  if (around === undefined || !(around === spec.workdir || spec.readWrite.includes(around)))
    return [];
  const dirs: string[] = [];
  for (let dir = path.dirname(protectedPath); dir !== around; dir = path.dirname(dir))
    dirs.push(dir);
  return dirs;
}

/** Path components below "/": "/" is 0, "/tmp" is 1. */
function depth(p: string): number {
  return p === '/' ? 0 : p.split('/').length - 1;
}

/**
 * A deny path that does not exist is not mounted over (bwrap would create it on the host). A
 * symlink is hidden at its target too, so neither name reaches the data.
 */
function resolveDenied(denied: string): { path: string; isDir: boolean }[] {
  try {
    const stats = lstatSync(denied);
    // A symlinked parent dir would be resolved inside the sandbox, where its target may not exist.
    const real = path.join(realpathSync(path.dirname(denied)), path.basename(denied));
    const found = [{ path: real, isDir: stats.isDirectory() }];
    if (stats.isSymbolicLink()) {
      const target = realpathSync(denied);
      found[0] = { path: target, isDir: lstatSync(target).isDirectory() };
    }
    return found.map((entry) => ({ ...entry, path: path.normalize(entry.path) }));
  } catch {
    return [];
  }
}
