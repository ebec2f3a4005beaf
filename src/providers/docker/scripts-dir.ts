import {
  chmodSync,
  chownSync,
  closeSync,
  constants,
  lstatSync,
  mkdirSync,
  openSync,
  writeSync,
} from 'node:fs';
import { chmod, chown, lstat, readdir } from 'node:fs/promises';
import path from 'node:path';
import { entrypointScript } from '../../entrypoint.js';

/**
 * How the container user gets to read the scripts (the dir is bound read-only, so nobody in the
 * container can write them): it is us (`owner`), we are root and hand them over (`chown`), or
 * we widen the owner's read/execute bits to everyone (`world`; the parent dir stays 0700 on
 * the host, so other host users still cannot reach them).
 */
export type ScriptAccess =
  | { readonly kind: 'owner' }
  | { readonly kind: 'chown'; readonly uid: number; readonly gid: number }
  | { readonly kind: 'world' };

const DIR_MODE = 0o700;
const EXEC_SCRIPT_MODE = 0o700;

/** Picks how the container user `uid:gid` will read files this process writes. */
export function chooseAccess(uid: number, gid: number): ScriptAccess {
  const self = process.getuid?.();
  if (self === uid) return { kind: 'owner' };
  return self === 0 ? { kind: 'chown', uid, gid } : { kind: 'world' };
}

/** Applies the access to everything below `dir` (after writeScripts made it 0700/script modes). */
export async function grantAccess(dir: string, access: ScriptAccess): Promise<void> {
  if (access.kind === 'owner') return;
  const entries = await readdir(dir, { recursive: true });
  for (const entry of ['.', ...entries].map((name) => path.join(dir, name))) {
    const stats = await lstat(entry);
    if (stats.isSymbolicLink()) continue;
    if (access.kind === 'chown') await chown(entry, access.uid, access.gid);
    else await chmod(entry, widen(stats.mode & 0o777));
  }
}

/** Writes the script one command runs: unset what docker or the image added, export env, exec. */
export function writeExecScript(
  scriptsDir: string,
  innerPath: string,
  command: {
    cmd: string;
    args: readonly string[];
    env: Readonly<Record<string, string>>;
    unset: readonly string[];
  },
  access: ScriptAccess,
): void {
  const { contents } = entrypointScript(command.cmd, command.args, { ...command.env });
  const [shebang, ...rest] = String(contents).split('\n');
  const unset = command.unset.length > 0 ? [`unset -v ${command.unset.join(' ')}`] : [];
  const text = [shebang, ...unset, ...rest].join('\n');
  const dir = path.join(scriptsDir, path.dirname(innerPath));
  mkdirSync(dir, { recursive: true, mode: DIR_MODE });
  if (lstatSync(dir).isSymbolicLink()) throw new Error(`${dir} is a symlink`);
  const file = path.join(scriptsDir, innerPath);
  const flags = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;
  const fd = openSync(file, flags, EXEC_SCRIPT_MODE);
  try {
    writeSync(fd, text);
  } finally {
    closeSync(fd);
  }
  for (const target of [dir, file]) {
    if (access.kind === 'chown') chownSync(target, access.uid, access.gid);
    if (access.kind === 'world') chmodSync(target, widen(lstatSync(target).mode & 0o777));
  }
}

/** Copies the owner's read and execute bits to group and others. */
function widen(mode: number): number {
  const owner = (mode >> 6) & 0o5;
  return mode | (owner << 3) | owner;
}
