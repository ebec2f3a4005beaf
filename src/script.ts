import {
  closeSync,
  constants,
  fchmodSync,
  lstatSync,
  mkdirSync,
  openSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import * as z from 'zod/mini';
import { EncageError } from './errors.js';
import { safeParse } from './validation.js';

/** A file written into the sandbox root before the command runs. */
export interface Script {
  /** Relative POSIX path inside the sandbox root, e.g. `.encage/entrypoint.sh`. */
  innerPath: string;
  /** Permission bits, e.g. `0o755`. */
  mode: number;
  contents: string | Uint8Array;
}

const MAX_MODE = 0o777;
const DIR_MODE = 0o700;

export const ScriptSchema = z.strictObject({
  innerPath: z.string(),
  mode: z.int().check(z.minimum(0), z.maximum(MAX_MODE)),
  contents: z.union([z.string(), z.instanceof(Uint8Array)]),
});

/**
 * Refuses an innerPath that is empty, absolute, has `..`/`.` or empty segments, a NUL byte, or
 * a backslash; returns its segments.
 */
export function parseInnerPath(innerPath: string): string[] {
  const fail = (why: string): never => {
    throw new EncageError(
      'INVALID_SCRIPT',
      `script innerPath ${JSON.stringify(innerPath)} ${why}. Use a relative path such as "bin/tool.sh".`,
      { path: innerPath },
    );
  };
  if (innerPath.length === 0) fail('is empty');
  if (innerPath.includes('\0')) fail('contains a NUL byte');
  if (innerPath.startsWith('/')) fail('is absolute');
  if (innerPath.includes('\\')) fail('contains a backslash');
  const segments = innerPath.split('/');
  for (const segment of segments) {
    if (segment === '..') fail('contains a ".." segment');
    if (segment === '.' || segment === '') fail('contains an empty or "." segment');
  }
  return segments;
}

/** Validates every script (shape, innerPath, duplicates) before anything is written. */
export function validateScripts(scripts: readonly Script[]): Script[] {
  const seen = new Set<string>();
  return scripts.map((script, index) => {
    const parsed = safeParse(ScriptSchema, script);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const field = ['scripts', index, ...(issue?.path ?? [])].join('.');
      throw new EncageError('INVALID_SCRIPT', `${field}: ${issue?.message ?? 'invalid'}`, {
        path: field,
      });
    }
    parseInnerPath(script.innerPath);
    if (seen.has(script.innerPath)) {
      throw new EncageError(
        'INVALID_SCRIPT',
        `script innerPath "${script.innerPath}" is given twice. Give each script its own path.`,
        { path: script.innerPath },
      );
    }
    seen.add(script.innerPath);
    return script;
  });
}

/**
 * Writes scripts under `root`, creating directories 0700. Never follows a symlink: a path
 * component that is a symlink (and so could lead out of the root) is refused. The file system
 * calls are synchronous: a few small files in a fresh private dir take less time than the
 * thread-pool round trips (five per file) of the asynchronous ones.
 */
export function writeScripts(root: string, scripts: readonly Script[]): Promise<void> {
  // The executor's errors reject the promise: callers see the asynchronous contract.
  return new Promise((resolve) => resolve(writeScriptsNow(root, scripts)));
}

function writeScriptsNow(root: string, scripts: readonly Script[]): void {
  for (const script of validateScripts(scripts)) {
    const segments = parseInnerPath(script.innerPath);
    let dir = root;
    for (const segment of segments.slice(0, -1)) {
      dir = path.join(dir, segment);
      ensureRealDirectory(dir, script.innerPath);
    }
    const target = path.join(root, ...segments);
    const flags = constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_NOFOLLOW;
    let fd: number;
    try {
      fd = openSync(target, flags, script.mode);
    } catch (error) {
      throw new EncageError(
        'INVALID_SCRIPT',
        `cannot write script "${script.innerPath}": ${(error as NodeJS.ErrnoException).code ?? String(error)}. The path must not be a symlink or a directory.`,
        { path: script.innerPath, cause: error },
      );
    }
    try {
      writeFileSync(fd, script.contents);
      fchmodSync(fd, script.mode); // the umask may have narrowed the mode given to open
    } finally {
      closeSync(fd);
    }
  }
}

function ensureRealDirectory(dir: string, innerPath: string): void {
  try {
    mkdirSync(dir, { mode: DIR_MODE });
    return;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  }
  const stats = lstatSync(dir);
  if (!stats.isDirectory()) {
    throw new EncageError(
      'INVALID_SCRIPT',
      `script "${innerPath}" would be written through "${dir}", which is not a directory (a symlink could lead out of the sandbox root). Remove it or choose another innerPath.`,
      { path: innerPath },
    );
  }
}
