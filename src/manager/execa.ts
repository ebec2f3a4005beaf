import { execa } from 'execa';

export type Execa = typeof execa;

/**
 * The process launcher, loaded with the library: a Manager can spawn even when it is first used
 * with every file descriptor taken. The CLI bundle swaps this module for execa-deferred.ts.
 */
export function loadExeca(): Promise<Execa> {
  return Promise.resolve(execa);
}
