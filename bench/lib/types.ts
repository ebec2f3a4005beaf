/** Distribution of one series of samples (ms, or whatever `unit` says). */
export interface Stat {
  readonly n: number;
  readonly median: number;
  readonly p95: number;
  readonly mean: number;
  readonly min: number;
  readonly max: number;
}

/** A target on the ratio (encage cost ÷ reference cost), e.g. `{ max: 1.5, text: '≤ 1.5× raw bwrap' }`. */
export interface Target {
  readonly max: number;
  readonly text: string;
}

/**
 * One measured comparison. `ratio` is always encage's cost divided by the reference's cost
 * measured in the same run (time ÷ time, or reference rate ÷ encage rate): 1 is parity, lower
 * is better. Figures without a reference (memory) have `ratio: null`.
 */
export interface Figure {
  readonly id: string;
  readonly group: string;
  readonly label: string;
  /** A few words for the chart, e.g. `bwrap vs raw bwrap`. */
  readonly short: string;
  readonly unit: string;
  /** `lower` for latencies and memory, `higher` for throughput. */
  readonly better: 'lower' | 'higher';
  readonly encage: Stat | null;
  readonly referenceLabel: string | null;
  readonly reference: Stat | null;
  readonly ratio: number | null;
  readonly target: Target | null;
  /** Why a figure was not measured; such a figure has no numbers. */
  readonly skipped?: string;
  readonly note?: string;
  /** Extra numbers (counts, leftovers, per-phase times). */
  readonly extra?: Readonly<Record<string, number | string | boolean>>;
}

export interface BenchSettings {
  readonly quick: boolean;
  readonly oneShotRuns: number;
  readonly dockerOneShotRuns: number;
  readonly cliRuns: number;
  readonly throughputRuns: number;
  readonly dockerThroughputRuns: number;
  readonly concurrencies: readonly number[];
  readonly streamBytes: number;
  readonly streamRuns: number;
  readonly memoryInstances: number;
}

export type MachineValue = string | number | boolean | null;

export interface Results {
  readonly schema: 1;
  readonly date: string;
  readonly quick: boolean;
  readonly durationS: number;
  readonly machine: Readonly<Record<string, MachineValue>>;
  readonly settings: BenchSettings;
  readonly figures: readonly Figure[];
}
