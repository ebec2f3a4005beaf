import type { Execa } from './execa.js';

let loading: Promise<Execa> | undefined;

/**
 * execa.ts for the CLI bundle (scripts/bundle-cli.mjs puts it in its place). In one bundled file
 * a dynamic import reads nothing from disk; it only runs execa's module bodies (~100 modules,
 * about 10 ms). The Manager asks for it when constructed; run in a later macrotask, that work is
 * done while the provider's check() probe runs in its own process, not ahead of it.
 */
export function loadExeca(): Promise<Execa> {
  loading ??= new Promise<void>((resolve) => setImmediate(resolve))
    .then(() => import('execa'))
    .then((module) => module.execa);
  return loading;
}
