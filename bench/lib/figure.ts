import { round, summarize } from './stats.js';
import type { Figure, Target } from './types.js';

export interface Comparison {
  readonly id: string;
  readonly group: string;
  readonly label: string;
  readonly short: string;
  readonly encage: readonly number[];
  readonly referenceLabel: string;
  readonly reference: readonly number[];
  readonly target?: Target | null;
  readonly note?: string;
  readonly extra?: Readonly<Record<string, number | string | boolean>>;
}

/** A latency figure: encage's median time ÷ the reference's median time from the same run. */
export function compareTimes(comparison: Comparison): Figure {
  return compare(comparison, 'ms', 'lower');
}

/**
 * A rate figure (runs/s, MiB/s) from per-round rates: the ratio is the reference's median rate
 * ÷ encage's, so it reads like a time ratio (1 = parity, lower is better).
 */
export function compareRates(comparison: Comparison & { unit: string }): Figure {
  return compare(comparison, comparison.unit, 'higher');
}

function compare(comparison: Comparison, unit: string, better: 'lower' | 'higher'): Figure {
  const encage = summarize(comparison.encage);
  const reference = summarize(comparison.reference);
  const ratio =
    better === 'lower' ? encage.median / reference.median : reference.median / encage.median;
  return {
    id: comparison.id,
    group: comparison.group,
    label: comparison.label,
    short: comparison.short,
    unit,
    better,
    encage,
    referenceLabel: comparison.referenceLabel,
    reference,
    ratio: round(ratio, 3),
    target: comparison.target ?? null,
    ...(comparison.note === undefined ? {} : { note: comparison.note }),
    ...(comparison.extra === undefined ? {} : { extra: comparison.extra }),
  };
}

/** A figure that could not be measured here, with the reason instead of a number. */
export function skipped(
  figure: {
    id: string;
    group: string;
    label: string;
    short?: string;
    referenceLabel?: string;
    unit?: string;
    target?: Target | null;
  },
  reason: string,
): Figure {
  return {
    id: figure.id,
    group: figure.group,
    label: figure.label,
    short: figure.short ?? figure.label,
    unit: figure.unit ?? 'ms',
    better: 'lower',
    encage: null,
    referenceLabel: figure.referenceLabel ?? null,
    reference: null,
    ratio: null,
    target: figure.target ?? null,
    skipped: reason,
  };
}

/** A single-line reason from an error or a failed probe. */
export function reasonOf(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.split('\n')[0]?.trim() || 'unknown error';
}
