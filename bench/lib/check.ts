import type { Figure, Results } from './types.js';

export const DEFAULT_TOLERANCE = 0.25;

export interface CheckLine {
  readonly id: string;
  readonly committed: number | null;
  readonly measured: number | null;
  readonly limit: number | null;
  readonly verdict: 'ok' | 'REGRESSION' | 'not compared';
  readonly why?: string;
}

/**
 * Compares each ratio with the committed one: a ratio worse by more than `tolerance` (0.25 =
 * 25%) is a regression. Only ratios are compared, never absolute times, so a slower or busier
 * machine does not fail the check by itself.
 */
export function compareWithCommitted(
  committed: Results,
  measured: Results,
  tolerance: number,
): CheckLine[] {
  const before = new Map<string, Figure>(committed.figures.map((figure) => [figure.id, figure]));
  return measured.figures.map((figure): CheckLine => {
    const old = before.get(figure.id);
    const base = { id: figure.id, committed: old?.ratio ?? null, measured: figure.ratio };
    if (!old) return { ...base, limit: null, verdict: 'not compared', why: 'new figure' };
    if (old.ratio === null || figure.ratio === null) {
      const why = figure.skipped ?? old.skipped ?? 'no ratio (absolute figure)';
      return { ...base, limit: null, verdict: 'not compared', why };
    }
    const limit = old.ratio * (1 + tolerance);
    return { ...base, limit, verdict: figure.ratio > limit ? 'REGRESSION' : 'ok' };
  });
}

/** Committed figures this run did not measure (e.g. with --only): said, never silently passed. */
export function unmeasured(committed: Results, measured: Results): string[] {
  const now = new Set(measured.figures.map((figure) => figure.id));
  return committed.figures.filter((figure) => !now.has(figure.id)).map((figure) => figure.id);
}

export function formatCheck(lines: readonly CheckLine[], tolerance: number): string {
  const width = Math.max(...lines.map((line) => line.id.length));
  const show = (value: number | null): string => (value === null ? '—' : `${value.toFixed(2)}×`);
  const body = lines.map(
    (line) =>
      `${line.id.padEnd(width)}  committed ${show(line.committed).padStart(7)}  now ${show(line.measured).padStart(7)}  limit ${show(line.limit).padStart(7)}  ${line.verdict}${line.why ? ` (${line.why})` : ''}`,
  );
  return [`ratio check, tolerance ${Math.round(tolerance * 100)}% (ratios only):`, ...body].join(
    '\n',
  );
}
