import type { Stat } from './types.js';

/** Median, p95 (nearest rank), mean, min and max of `samples`. */
export function summarize(samples: readonly number[]): Stat {
  if (samples.length === 0) throw new Error('bench: no samples to summarize');
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q: number): number =>
    sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] ?? NaN;
  const middle = sorted.length / 2;
  const median =
    sorted.length % 2 === 1
      ? (sorted[Math.floor(middle)] ?? NaN)
      : ((sorted[middle - 1] ?? NaN) + (sorted[middle] ?? NaN)) / 2;
  const mean = sorted.reduce((sum, value) => sum + value, 0) / sorted.length;
  return {
    n: sorted.length,
    median: round(median),
    p95: round(at(0.95)),
    mean: round(mean),
    min: round(sorted[0] ?? NaN),
    max: round(sorted[sorted.length - 1] ?? NaN),
  };
}

/** Rounds to 4 significant decimals so results.json stays readable. */
export function round(value: number, digits = 4): number {
  if (!Number.isFinite(value)) return value;
  const factor = 10 ** Math.max(0, digits - Math.ceil(Math.log10(Math.abs(value) + 1e-12)));
  return Math.round(value * factor) / factor;
}

export interface Variant {
  readonly name: string;
  readonly run: () => Promise<unknown>;
  /** Untimed work before each run (e.g. wait for a pool to refill). */
  readonly before?: () => Promise<unknown>;
}

/**
 * Runs every variant `runs` times, one after the other within each round, rotating the order
 * every round so drift and order effects hit all variants alike. Returns the samples (ms).
 */
export async function interleave(
  variants: readonly Variant[],
  runs: number,
  warmup = 2,
): Promise<Map<string, number[]>> {
  const samples = new Map<string, number[]>(variants.map((variant) => [variant.name, []]));
  for (let round = -warmup; round < runs; round++) {
    for (let k = 0; k < variants.length; k++) {
      const variant = variants[(Math.max(round, 0) + k) % variants.length];
      if (!variant) continue;
      await variant.before?.();
      const started = performance.now();
      await variant.run();
      if (round >= 0) samples.get(variant.name)?.push(performance.now() - started);
    }
  }
  return samples;
}

/** Runs `task` `count` times with at most `concurrency` at once; returns each run's latency (ms). */
export async function pool(
  count: number,
  concurrency: number,
  task: (index: number) => Promise<unknown>,
): Promise<number[]> {
  const latencies: number[] = [];
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < count) {
      const index = next++;
      const started = performance.now();
      await task(index);
      latencies.push(performance.now() - started);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
  return latencies;
}

/** Prints progress on stderr so stdout stays the table. */
export function progress(message: string): void {
  process.stderr.write(`[bench] ${message}\n`);
}
