import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/**
 * The `gc` function, also when node was started without `--expose-gc` (vitest workers):
 * the flag can be set at run time, and a fresh context then sees `gc`.
 */
export function exposeGc(): () => void {
  const existing = (globalThis as { gc?: () => void }).gc;
  if (existing) return existing;
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as unknown;
  if (typeof gc !== 'function') throw new Error('cannot expose gc');
  return gc as () => void;
}
