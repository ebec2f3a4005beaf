import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import path from 'node:path';

/** A unique word to find a test's sandboxed processes by (argv and environment). */
export function createMarker(label: string): string {
  return `encage-rel-${label}-${randomBytes(6).toString('hex')}`;
}

/**
 * Points TMPDIR (and so every provider's temp dirs) at a fresh private dir, so that leftovers are
 * this test's own even while other test files run. Not named `encage-*`: leak scans of other
 * tests must not see it. Returns the dir and a function that restores TMPDIR and removes it.
 */
export function usePrivateTmp(label: string): { dir: string; restore: () => void } {
  const previous = process.env.TMPDIR;
  const dir = mkdtempSync(path.join(previous ?? '/tmp', `rel-${label}-`));
  process.env.TMPDIR = dir;
  return {
    dir,
    restore: () => {
      if (previous === undefined) delete process.env.TMPDIR;
      else process.env.TMPDIR = previous;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A small seeded PRNG (mulberry32), so a failing soak can be replayed with its seed. */
export function createRandom(seed: number): {
  next: () => number;
  int: (min: number, max: number) => number;
  pick: <T>(items: readonly T[]) => T;
} {
  let state = seed >>> 0;
  const next = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (min: number, max: number): number => min + Math.floor(next() * (max - min + 1));
  const pick = <T>(items: readonly T[]): T => {
    const item = items[int(0, items.length - 1)];
    if (item === undefined) throw new Error('pick from an empty list');
    return item;
  };
  return { next, int, pick };
}

/** Runs `work` with TMPDIR set to `dir`, then puts the previous value (or its absence) back. */
export async function withTmpdir<T>(dir: string, work: () => Promise<T>): Promise<T> {
  const previous = process.env.TMPDIR;
  process.env.TMPDIR = dir;
  try {
    return await work();
  } finally {
    if (previous === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = previous;
  }
}
