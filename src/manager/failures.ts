import { tmpdir } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { EncageError } from '../errors.js';
import { hostErrno } from '../util/host-errors.js';

export function closedError(): EncageError {
  return new EncageError('MANAGER_CLOSED', 'the manager was closed; create a new Manager.');
}

/** Waits for `promise`, but at most `ms`. */
export async function settledWithin(promise: Promise<unknown>, ms: number): Promise<void> {
  const timer = new AbortController();
  await Promise.race([
    promise,
    sleep(ms, undefined, { signal: timer.signal }).catch(() => undefined),
  ]);
  timer.abort();
}

/**
 * A provider's prepare failing with a plain error (ENOSPC, EMFILE...) still fails typed; so does
 * a script write that failed for lack of space or descriptors (the scripts were validated).
 */
export function asPrepareError(provider: string, error: unknown): EncageError {
  const hostCode = hostErrno(error instanceof EncageError ? error.cause : error);
  if (error instanceof EncageError && (error.code !== 'INVALID_SCRIPT' || !hostCode)) return error;
  const errno = (error instanceof EncageError ? error.cause : error) as NodeJS.ErrnoException;
  const what = hostCode ?? errno.code ?? (error instanceof Error ? error.message : String(error));
  return new EncageError(
    'PREPARE_FAILED',
    `[${provider}] prepare failed: ${what}${errno.path ? ` at ${errno.path}` : ''} (temp dir ${tmpdir()}). Free disk space or file descriptors, or set TMPDIR to a writable directory.`,
    { path: errno.path ?? tmpdir(), cause: error },
  );
}
