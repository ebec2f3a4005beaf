import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { format, resolveConfig } from 'prettier';
import { compareWithCommitted, DEFAULT_TOLERANCE, formatCheck, unmeasured } from './lib/check.js';
import { createContext, type BenchContext } from './lib/context.js';
import { describeMachine } from './lib/machine.js';
import { markdownPage, markdownTable, svgChart } from './lib/report.js';
import { progress, round } from './lib/stats.js';
import type { BenchSettings, Figure, Results } from './lib/types.js';
import { benchCli } from './suites/cli.js';
import { benchDocker, loadDocker } from './suites/docker.js';
import { benchMemory } from './suites/memory.js';
import { benchOneShot } from './suites/oneshot.js';
import { benchStream } from './suites/stream.js';
import { benchThroughput } from './suites/throughput.js';

/** Compiled to bench/.tmp/run.js: the repository root is two levels up. */
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const COMMITTED = { results: 'bench/results.json', page: 'docs/bench.md', chart: 'docs/bench.svg' };
const SCRATCH = 'bench/.tmp/out';

const FULL: BenchSettings = {
  quick: false,
  oneShotRuns: 200,
  dockerOneShotRuns: 15,
  cliRuns: 30,
  throughputRuns: 1000,
  dockerThroughputRuns: 50,
  concurrencies: [1, 2, 8],
  streamBytes: 1024 ** 3,
  streamRuns: 3,
  memoryInstances: 1000,
};

const QUICK: BenchSettings = {
  quick: true,
  oneShotRuns: 10,
  dockerOneShotRuns: 3,
  cliRuns: 3,
  throughputRuns: 24,
  dockerThroughputRuns: 8,
  concurrencies: [1, 2, 8],
  streamBytes: 16 * 1024 ** 2,
  streamRuns: 2,
  memoryInstances: 50,
};

/** Table and chart order, whatever order the suites ran in. */
const GROUP_ORDER = ['one-shot latency', 'CLI end to end', 'throughput', 'streaming', 'memory'];

const SUITES: Record<string, (ctx: BenchContext) => Promise<Figure[]>> = {
  oneshot: benchOneShot,
  cli: benchCli,
  throughput: benchThroughput,
  stream: benchStream,
  memory: benchMemory,
  docker: benchDocker,
};

const USAGE = `usage: npm run bench -- [--quick] [--check [--tolerance 0.25]] [--only ${Object.keys(SUITES).join(',')}] [--out DIR]
  (no flag)  full run (a few minutes): writes ${COMMITTED.results}, ${COMMITTED.page}, ${COMMITTED.chart}
  --quick    few iterations, for a smoke test; writes to ${SCRATCH}/ unless --out
  --check    re-measure and compare ratios with the committed ${COMMITTED.results}; exit 1 on a
             ratio worse by more than the tolerance; writes nothing but ${SCRATCH}/
  --only     run some suites; writes to ${SCRATCH}/ unless --out`;

function parseFlags(argv: string[]) {
  const { values } = parseArgs({
    args: argv,
    options: {
      quick: { type: 'boolean', default: false },
      check: { type: 'boolean', default: false },
      tolerance: { type: 'string' },
      only: { type: 'string' },
      out: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  const only = values.only?.split(',').filter(Boolean) ?? Object.keys(SUITES);
  const unknown = only.filter((name) => !(name in SUITES));
  if (unknown.length)
    throw new Error(
      `unknown suite(s) ${unknown.join(', ')}; use ${Object.keys(SUITES).join(', ')}`,
    );
  const tolerance = values.tolerance === undefined ? DEFAULT_TOLERANCE : Number(values.tolerance);
  if (!(tolerance > 0)) throw new Error('--tolerance: give a positive fraction, e.g. 0.25');
  const partial = values.quick || values.check || values.only !== undefined;
  const out = values.out ?? (partial ? SCRATCH : undefined);
  return { ...values, only, tolerance, out };
}

/** Before each suite of a full run, wait this long at most for other work to calm down. */
const QUIET_WAIT_MS = 60_000;
const QUIET_POLL_MS = 5_000;

/**
 * Waits (bounded) until the 1-minute load average is below the number of CPUs: other work on a
 * 2-CPU machine skews the ratios. Returns the load average it started the suite with.
 */
async function waitForQuiet(maxMs: number): Promise<number> {
  const cpus = availableParallelism();
  const deadline = performance.now() + maxMs;
  let load = loadavg()[0] ?? 0;
  if (load >= cpus && maxMs > 0)
    progress(
      `load average ${load.toFixed(1)}: waiting up to ${maxMs / 1000} s for a quieter machine`,
    );
  while (load >= cpus && performance.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, QUIET_POLL_MS));
    load = loadavg()[0] ?? 0;
  }
  if (load >= cpus && maxMs > 0) progress(`still busy (load ${load.toFixed(1)}): measuring anyway`);
  return load;
}

function rank(group: string): number {
  const index = GROUP_ORDER.indexOf(group);
  return index < 0 ? GROUP_ORDER.length : index;
}

function write(file: string, contents: string): void {
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, contents);
}

async function main(): Promise<number> {
  let flags: ReturnType<typeof parseFlags>;
  try {
    flags = parseFlags(process.argv.slice(2));
  } catch (error) {
    process.stderr.write(
      `bench: ${error instanceof Error ? error.message : String(error)}\n${USAGE}\n`,
    );
    return 2;
  }
  if (flags.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const settings = flags.quick ? QUICK : FULL;
  const started = performance.now();
  const date = new Date().toISOString();
  const machine = describeMachine();
  const loadBefore = loadavg()[0] ?? 0;
  if (loadBefore > availableParallelism())
    progress(
      `WARNING: load average ${loadBefore.toFixed(1)} on ${availableParallelism()} CPUs: other work is running, expect noisy numbers`,
    );
  progress(
    `${flags.quick ? 'quick' : 'full'} run on ${String(machine.cpus)} CPUs, node ${process.version}; suites: ${flags.only.join(', ')}`,
  );
  const docker = await loadDocker(settings);
  const ctx = await createContext(settings, ROOT, docker.setup, docker.why);
  for (const [name, why] of ctx.unavailable) progress(`${name} not measured: ${why}`);
  const figures: Figure[] = [];
  const suiteLoads: string[] = [];
  try {
    for (const name of flags.only) {
      const load = await waitForQuiet(settings.quick ? 0 : QUIET_WAIT_MS);
      suiteLoads.push(`${name} ${load.toFixed(1)}`);
      figures.push(...(await SUITES[name]!(ctx)));
    }
  } finally {
    await ctx.manager.close();
  }
  const results: Results = {
    schema: 1,
    date,
    quick: settings.quick,
    durationS: Math.round((performance.now() - started) / 100) / 10,
    machine: {
      ...machine,
      loadAverage1mPerSuite: suiteLoads.join(', '),
      loadAverage1mStart: round(loadBefore),
      loadAverage1mEnd: round(loadavg()[0] ?? 0),
    },
    settings,
    figures: [...figures].sort((a, b) => rank(a.group) - rank(b.group)),
  };
  // Formatted as `prettier --check .` expects (docs/bench.md is checked in CI).
  const style = { ...(await resolveConfig(path.join(ROOT, COMMITTED.page))), parser: 'markdown' };
  const table = await format(markdownTable(results), style);
  const page = await format(markdownPage(results, table), style);
  const target = (file: string): string =>
    flags.out === undefined
      ? path.join(ROOT, file)
      : path.resolve(ROOT, flags.out, path.basename(file));
  write(target(COMMITTED.results), `${JSON.stringify(results, null, 2)}\n`);
  write(target(COMMITTED.page), page);
  write(target(COMMITTED.chart), svgChart(results));
  if (flags.out === undefined) await updateReadme(results, table);
  process.stdout.write(`\n${table}\n`);
  progress(
    `wrote ${[COMMITTED.results, COMMITTED.page, COMMITTED.chart].map((f) => path.relative(ROOT, target(f))).join(', ')} in ${results.durationS} s`,
  );
  let status = 0;
  const leftovers = figures.filter((figure) => figure.extra?.clean === false);
  if (leftovers.length) {
    process.stderr.write(
      `bench: FAILED: teardown left resources behind: ${leftovers.map((f) => f.note).join('; ')}\n`,
    );
    status = 1;
  }
  if (flags.check) {
    const committedPath = path.join(ROOT, COMMITTED.results);
    if (!existsSync(committedPath)) {
      process.stderr.write(
        `bench: --check: no committed ${COMMITTED.results}; run \`npm run bench\` first\n`,
      );
      return 1;
    }
    const committed = JSON.parse(readFileSync(committedPath, 'utf8')) as Results;
    const lines = compareWithCommitted(committed, results, flags.tolerance);
    process.stdout.write(`\n${formatCheck(lines, flags.tolerance)}\n`);
    const missing = unmeasured(committed, results);
    if (missing.length) progress(`--check: not measured in this run: ${missing.join(', ')}`);
    const regressions = lines.filter((line) => line.verdict === 'REGRESSION');
    if (regressions.length) {
      process.stderr.write(
        `bench: --check FAILED: ${regressions.length} ratio(s) regressed beyond ${Math.round(flags.tolerance * 100)}%: ${regressions.map((r) => r.id).join(', ')}\n`,
      );
      status = 1;
    } else {
      progress(
        `--check passed: no ratio worse than the committed one by more than ${Math.round(flags.tolerance * 100)}%`,
      );
    }
  }
  return status;
}

try {
  process.exitCode = await main();
} catch (error) {
  process.stderr.write(
    `bench: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  process.exitCode = 2;
}

/**
 * README.md shows the table of the committed run, with its date and machine, between the
 * `<!-- bench:start -->` and `<!-- bench:end -->` markers.
 */
async function updateReadme(results: Results, table: string): Promise<void> {
  const file = path.join(ROOT, 'README.md');
  const text = readFileSync(file, 'utf8');
  const start = '<!-- bench:start -->';
  const end = '<!-- bench:end -->';
  const from = text.indexOf(start);
  const to = text.indexOf(end);
  if (from < 0 || to < from) {
    progress('README.md has no bench markers: not updated');
    return;
  }
  const m = results.machine;
  const text_ = (key: string): string => String(m[key] ?? 'unknown');
  const header =
    `Measured ${results.date.slice(0, 10)}${results.quick ? ' (QUICK run: few iterations, noisy)' : ''} on ` +
    `${text_('os')}, ${text_('cpus')} × ${text_('cpuModel')}, ${text_('memoryGiB')} GiB; node ${text_('node')}, ` +
    `${text_('bwrap')}, Docker ${text_('docker')}; encage ${text_('gitCommit')}. Load average (1 min) ` +
    `at the start of each suite: ${text_('loadAverage1mPerSuite')}. Notes and method: ` +
    `[docs/bench.md](docs/bench.md).`;
  const updated = `${text.slice(0, from + start.length)}\n\n${header}\n\n${table.trim()}\n\n${text.slice(to)}`;
  const style = { ...(await resolveConfig(file)), parser: 'markdown' };
  write(file, await format(updated, style));
}
