import { closeSync, openSync } from 'node:fs';

const FD_EXHAUSTED = new Set(['EMFILE', 'ENFILE']);

/**
 * One descriptor held back so that cleanup can still open a directory after the process ran
 * out of them (EMFILE): without it, the temp dirs of the failed runs would stay behind.
 */
let reserveFd: number | undefined;
let queue: Promise<unknown> = Promise.resolve();

/** Takes the reserve descriptor if it is not held (no-op when none is free). */
export function holdFdReserve(): void {
  if (reserveFd !== undefined) return;
  try {
    reserveFd = openSync('/dev/null', 'r'); // O_CLOEXEC: never inherited by sandboxed commands
  } catch {
    // out of descriptors now: taken again on the next call
  }
}

export function isFdExhausted(error: unknown): boolean {
  return FD_EXHAUSTED.has(String((error as NodeJS.ErrnoException | undefined)?.code));
}

/** Runs `task` with the reserve descriptor released for it, one task at a time. */
export function withFdReserve<T>(task: () => Promise<T>): Promise<T> {
  const run = queue.then(async () => {
    if (reserveFd !== undefined) closeSync(reserveFd);
    reserveFd = undefined;
    try {
      return await task();
    } finally {
      holdFdReserve();
    }
  });
  queue = run.catch(() => undefined);
  return run;
}
