import type { ChildProcess } from 'node:child_process';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';

const CHILD_PROCESS_CHANNEL = 'child_process';

/**
 * Runs `start` (a synchronous spawn, e.g. `execa(...)`) and, if it throws, keeps the half-made
 * ChildProcess from crashing the process. When spawn hits EMFILE/ENFILE, Node emits 'error' on
 * the next tick while execa has already thrown (stdio is null) and attached no listener: an
 * unhandled 'error' event. Only children created during this synchronous call are captured.
 */
export function spawnGuarded<T>(start: () => T): T {
  const created: ChildProcess[] = [];
  const capture = (message: unknown): void => {
    const child = (message as { process?: ChildProcess }).process;
    if (child) created.push(child);
  };
  subscribe(CHILD_PROCESS_CHANNEL, capture);
  try {
    return start();
  } catch (error) {
    for (const child of created) child.on('error', () => undefined);
    // Node leaves `stdio` null only when spawn gave up early for lack of descriptors.
    if (created.some((child) => child.stdio == null))
      throw Object.assign(new Error('out of file descriptors', { cause: error }), {
        code: 'EMFILE',
      });
    throw error;
  } finally {
    unsubscribe(CHILD_PROCESS_CHANNEL, capture);
  }
}
