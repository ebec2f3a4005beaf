import { parseSpec } from 'encage';
import type { BenchContext } from '../lib/context.js';
import { compareRates, skipped } from '../lib/figure.js';
import { rawBwrapFrom, runRawBwrap } from '../lib/raw.js';
import { pool, progress, round, summarize } from '../lib/stats.js';
import type { Figure, Target } from '../lib/types.js';
import { createShellReference } from '../lib/scriptdir-ref.js';
import { expectSuccess } from './oneshot.js';

const GROUP = 'throughput';
/** Encage and raw alternate batch by batch to cancel drift: at most this many batches per side. */
const MAX_ROUNDS = 20;
/** Smallest batch: at least this many runs, and two per concurrent slot. */
const MIN_BATCH = 10;
export const THROUGHPUT_TARGET: Target = { max: 1.25, text: '≤ 1.25 (≥ 0.8× raw throughput)' };

export interface ThroughputCase {
  readonly id: string;
  readonly label: string;
  /** Chart label; `, cN` is appended. */
  readonly short: string;
  readonly referenceLabel: string;
  readonly runs: number;
  readonly encage: () => Promise<unknown>;
  readonly raw: () => Promise<unknown>;
  readonly target?: Target;
  readonly note?: string;
}

/** `runs` one-shot runs at each concurrency, encage and raw in alternating batches. */
export async function measureThroughput(
  concurrencies: readonly number[],
  cases: readonly ThroughputCase[],
): Promise<Figure[]> {
  const figures: Figure[] = [];
  for (const item of cases) {
    for (const concurrency of concurrencies) {
      const rounds = Math.max(
        1,
        Math.min(MAX_ROUNDS, Math.floor(item.runs / Math.max(2 * concurrency, MIN_BATCH))),
      );
      const batch = Math.ceil(item.runs / rounds);
      progress(
        `throughput: ${item.id} ${rounds}×${batch} runs per side at concurrency ${concurrency}`,
      );
      const rates = { encage: [] as number[], raw: [] as number[] };
      const latencies = { encage: [] as number[], raw: [] as number[] };
      const time = { encage: 0, raw: 0 };
      for (let r = 0; r < rounds; r++) {
        const order = r % 2 === 0 ? (['encage', 'raw'] as const) : (['raw', 'encage'] as const);
        for (const side of order) {
          const started = performance.now();
          const task = side === 'encage' ? item.encage : item.raw;
          latencies[side].push(...(await pool(batch, concurrency, task)));
          const elapsed = performance.now() - started;
          time[side] += elapsed;
          rates[side].push((batch / elapsed) * 1000);
        }
      }
      const encageLatency = summarize(latencies.encage);
      const rawLatency = summarize(latencies.raw);
      figures.push(
        compareRates({
          id: `${item.id}.c${concurrency}`,
          group: GROUP,
          label: `${item.label}, concurrency ${concurrency}`,
          short: `${item.short}, c${concurrency}`,
          unit: 'runs/s',
          encage: rates.encage,
          referenceLabel: item.referenceLabel,
          reference: rates.raw,
          target: item.target ?? THROUGHPUT_TARGET,
          ...(item.note === undefined ? {} : { note: item.note }),
          extra: {
            runsPerSide: rounds * batch,
            concurrency,
            encageRunsPerS: round((rounds * batch * 1000) / time.encage),
            rawRunsPerS: round((rounds * batch * 1000) / time.raw),
            encageLatencyMedianMs: encageLatency.median,
            encageLatencyP95Ms: encageLatency.p95,
            rawLatencyMedianMs: rawLatency.median,
            rawLatencyP95Ms: rawLatency.p95,
          },
        }),
      );
    }
  }
  return figures;
}

/** scriptdir and bwrap: many one-shot runs vs the raw tool at the same concurrency. */
export async function benchThroughput(ctx: BenchContext): Promise<Figure[]> {
  const shell = createShellReference('/bin/true');
  try {
    return await measureLocal(ctx, shell.run);
  } finally {
    shell.remove();
  }
}

async function measureLocal(ctx: BenchContext, shell: () => Promise<void>): Promise<Figure[]> {
  const { manager, settings } = ctx;
  const runs = settings.throughputRuns;
  const cases: ThroughputCase[] = [
    {
      id: 'throughput.scriptdir',
      label: `scriptdir: ${runs} × Manager.run /bin/true`,
      short: 'scriptdir vs /bin/sh entrypoint',
      referenceLabel: '/bin/sh running the same entrypoint file',
      runs,
      encage: async () =>
        expectSuccess(await manager.run({ provider: 'scriptdir' }, '/bin/true'), 'scriptdir'),
      raw: shell,
    },
  ];
  const bwrapWhy = ctx.unavailable.get('bwrap');
  const figures: Figure[] = [];
  if (bwrapWhy !== undefined) {
    for (const concurrency of settings.concurrencies) {
      figures.push(
        skipped(
          {
            id: `throughput.bwrap.c${concurrency}`,
            group: GROUP,
            label: `bwrap, concurrency ${concurrency}`,
            short: `bwrap vs raw bwrap, c${concurrency}`,
            target: THROUGHPUT_TARGET,
          },
          `bwrap unavailable: ${bwrapWhy}`,
        ),
      );
    }
    return [...(await measureThroughput(settings.concurrencies, cases)), ...figures];
  }
  const spec = parseSpec({ provider: 'bwrap' });
  const reference = await manager.prepare(spec, [], { invocation: { cmd: '/bin/true', args: [] } });
  try {
    const raw = rawBwrapFrom(reference.exec('/bin/true', [], spec.env));
    cases.push({
      id: 'throughput.bwrap',
      label: `bwrap: ${runs} × Manager.run /bin/true`,
      short: 'bwrap vs raw bwrap',
      referenceLabel: 'bwrap, same argv + seccomp fd',
      runs,
      encage: async () =>
        expectSuccess(await manager.run({ provider: 'bwrap' }, '/bin/true'), 'bwrap'),
      raw: () => runRawBwrap(raw),
    });
    return await measureThroughput(settings.concurrencies, cases);
  } finally {
    await reference.teardown();
  }
}
