// fs.promises rather than node:fs/promises: in the CLI bundle that module loads on first use.
import { mkdtempSync, promises as fsp, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { abortError, EncageError } from '../errors.js';
import { writeScripts, type Script } from '../script.js';
import { holdFdReserve, isFdExhausted, withFdReserve } from './fd-reserve.js';
import { hostErrno } from './host-errors.js';

/**
 * Creates a private (0700) temp dir for one instance, named `encage-<provider>-<owner pid>-XXXXXX`
 * so that `encage gc` can tell a dir whose Manager died (SIGKILL leaves it) from one in use.
 * Fails with PREPARE_FAILED naming the dir.
 */
export function createPrivateDir(provider: string): Promise<string> {
  // The executor's errors reject the promise: callers see the asynchronous contract.
  return new Promise((resolve) => resolve(createPrivateDirNow(provider)));
}

function createPrivateDirNow(provider: string): string {
  const base = tmpdir();
  const prefix = `encage-${provider}-${process.pid}-`;
  holdFdReserve();
  try {
    // Synchronous: one mkdir costs less than a thread-pool round trip. Created 0700.
    return mkdtempSync(path.join(base, prefix));
  } catch (error) {
    throw new EncageError(
      'PREPARE_FAILED',
      `[${provider}] cannot create a temp dir in ${base}: ${(error as NodeJS.ErrnoException).code ?? String(error)}. Free space or set TMPDIR to a writable directory.`,
      { path: base, cause: error },
    );
  }
}

/**
 * Removes a dir made by createPrivateDir; missing is fine. Works even when out of descriptors.
 * First synchronously (a handful of entries: less time than the ~10 thread-pool round trips of
 * the asynchronous walk); if that fails, asynchronously with retries, which never block.
 */
export async function removeDir(dir: string): Promise<void> {
  try {
    rmSync(dir, { recursive: true, force: true });
    return;
  } catch {
    // busy, out of descriptors...: the retrying path below
  }
  const remove = () => fsp.rm(dir, { recursive: true, force: true, maxRetries: 3 });
  try {
    await remove();
  } catch (error) {
    if (!isFdExhausted(error)) throw error;
    await withFdReserve(remove);
  }
}

/**
 * Creates a private dir and writes the scripts into it; on any failure (or abort) the dir is
 * removed before the error propagates.
 */
export async function createScriptsDir(
  provider: string,
  scripts: readonly Script[],
  signal: AbortSignal | undefined,
): Promise<string> {
  if (signal?.aborted) throw abortError(signal);
  const dir = await createPrivateDir(provider);
  try {
    await writeScripts(dir, scripts);
    if (signal?.aborted) throw abortError(signal);
    return dir;
  } catch (error) {
    // The first failure is the one to report; a failed cleanup (e.g. EMFILE again) must not hide it.
    await removeDir(dir).catch(() => undefined);
    const code = hostErrno(error instanceof EncageError ? error.cause : error);
    if (code === undefined) throw error;
    throw new EncageError(
      'PREPARE_FAILED',
      `[${provider}] cannot write the scripts into ${dir}: ${code}. Free space or file descriptors, or set TMPDIR to a writable directory.`,
      { path: dir, cause: error },
    );
  }
}
