import { once } from 'node:events';
import { getHeapSpaceStatistics } from 'node:v8';
import { setTimeout as sleep } from 'node:timers/promises';
import pLimit from 'p-limit';
import {
  EncageError,
  type Manager,
  type Provider,
  type RunResult,
  type SandboxSpecInput,
} from '../../../src/index.js';
import { createRandom } from '../helpers/scope.js';
import { createScenario, type Scenario } from './scenarios.js';

/** A run that has not settled after this long is reported as hung. */
const HUNG_AFTER_MS = 90_000;

export interface SoakTarget {
  readonly provider: Provider;
  readonly runs: number;
  /** Extra spec fields (docker: `options.image`). */
  readonly spec?: Partial<SandboxSpecInput>;
}

export interface ProviderStats {
  provider: string;
  runs: number;
  durationMs: number;
  /** Outcomes seen, e.g. `exit:0`, `timedOut`, `aborted`, `rejected:ABORTED`. */
  outcomes: Record<string, number>;
  /** Runs whose outcome broke their scenario's promise; each says why. */
  failures: string[];
}

export interface SoakOptions {
  readonly manager: Manager;
  readonly targets: readonly SoakTarget[];
  readonly workdir: string;
  readonly marker: string;
  readonly concurrency: number;
  readonly seed: number;
  /** A long-lived signal (never aborted) that every other plain run passes along. */
  readonly shared?: AbortSignal;
  /** Called every `progressEvery` runs. */
  readonly onProgress?: (provider: string, done: number, total: number) => void;
  readonly progressEvery?: number;
}

/** Runs every target's runs, `concurrency` at a time, and checks each outcome. */
export async function runSoak(options: SoakOptions): Promise<ProviderStats[]> {
  const random = createRandom(options.seed);
  const stats: ProviderStats[] = [];
  for (const target of options.targets) {
    const started = performance.now();
    const entry: ProviderStats = {
      provider: target.provider.name,
      runs: target.runs,
      durationMs: 0,
      outcomes: {},
      failures: [],
    };
    const limit = pLimit(options.concurrency);
    let done = 0;
    const scenarios = Array.from({ length: target.runs }, (_, index) =>
      createScenario(random, index, options.marker, target.provider.capabilities),
    );
    await Promise.all(
      scenarios.map((scenario) =>
        limit(async () => {
          const { outcome, failure } = await runOne(options, target, scenario);
          entry.outcomes[outcome] = (entry.outcomes[outcome] ?? 0) + 1;
          if (failure) entry.failures.push(`#${scenario.index} ${scenario.kind}: ${failure}`);
          done += 1;
          if (options.onProgress && done % (options.progressEvery ?? 1000) === 0)
            options.onProgress(target.provider.name, done, target.runs);
        }),
      ),
    );
    entry.durationMs = Math.round(performance.now() - started);
    stats.push(entry);
  }
  return stats;
}

interface Checked {
  outcome: string;
  failure?: string;
}

async function runOne(options: SoakOptions, target: SoakTarget, scenario: Scenario) {
  const spec: SandboxSpecInput = {
    provider: target.provider.name,
    workdir: options.workdir,
    ...target.spec,
    env: { PATH: '/usr/bin:/bin', ENCAGE_REL_MARKER: options.marker },
    limits: scenario.limits,
  };
  let watchdog: NodeJS.Timeout | undefined;
  const hung = new Promise<Checked>((resolve) => {
    watchdog = setTimeout(
      () => resolve({ outcome: 'hung', failure: `not settled after ${HUNG_AFTER_MS} ms` }),
      HUNG_AFTER_MS,
    );
  });
  try {
    const shared = scenario.index % 2 === 0 ? options.shared : undefined;
    return await Promise.race([execute(options.manager, spec, scenario, shared), hung]);
  } finally {
    clearTimeout(watchdog);
  }
}

async function execute(
  manager: Manager,
  spec: SandboxSpecInput,
  scenario: Scenario,
  shared: AbortSignal | undefined,
): Promise<Checked> {
  const controller = new AbortController();
  const abortAfter = (ms: number): void => {
    if (ms === 0) controller.abort();
    else setTimeout(() => controller.abort(), ms);
  };
  try {
    let result: RunResult;
    switch (scenario.kind) {
      case 'abort-prepare':
      case 'abort-random': {
        const running = manager.run(spec, scenario.cmd, scenario.args, {
          signal: controller.signal,
        });
        abortAfter(scenario.abortAfterMs ?? 0);
        result = await running;
        break;
      }
      case 'abort-exec': {
        const running = await manager.spawn(spec, scenario.cmd, scenario.args, {
          signal: controller.signal,
          buffer: false,
        });
        running.subprocess.stdout?.once('data', () => abortAfter(scenario.abortAfterMs ?? 0));
        running.subprocess.stdout?.resume();
        result = await running.result;
        break;
      }
      case 'abort-teardown': {
        const running = await manager.spawn(spec, scenario.cmd, scenario.args, {
          signal: controller.signal,
        });
        // The command has exited: what runs now is the collection of its output and the teardown.
        running.subprocess.once('exit', () => controller.abort());
        result = await running.result;
        break;
      }
      default:
        result = await manager.run(spec, scenario.cmd, scenario.args, {
          ...(scenario.input === undefined ? {} : { input: scenario.input }),
          signal: shared,
        });
    }
    return checkResult(scenario, result, spec);
  } catch (error) {
    return checkRejection(scenario, error);
  }
}

function checkResult(scenario: Scenario, result: RunResult, spec: SandboxSpecInput): Checked {
  const marker = spec.env?.ENCAGE_REL_MARKER ?? '';
  const outcome = result.timedOut
    ? 'timedOut'
    : result.aborted
      ? 'aborted'
      : `exit:${result.exitCode === 0 ? 0 : 'non-zero'}`;
  const fail = (why: string): Checked => ({
    outcome,
    failure: `${why} (exit ${result.exitCode}, stdout ${JSON.stringify(result.stdout.slice(0, 80))}, stderr ${JSON.stringify(result.stderr.slice(0, 80))})`,
  });
  const aborts = scenario.kind.startsWith('abort-');
  if (!aborts && result.aborted) return fail('aborted without an abort');
  if (scenario.kind === 'abort-exec' && !result.aborted) return fail('not aborted');
  switch (scenario.kind) {
    case 'ok':
      return result.exitCode === 0 && result.stdout === `${marker}-${scenario.index}\n`
        ? { outcome }
        : fail('wrong output');
    case 'exit':
      return result.exitCode === scenario.status && result.stderr === `${marker}\n`
        ? { outcome }
        : fail(`expected exit ${scenario.status}`);
    case 'both-streams':
      return result.stdout === `out-${scenario.index}\n` &&
        result.stderr === `err-${scenario.index}\n`
        ? { outcome }
        : fail('streams mixed up');
    case 'stdin':
      return result.stdout === scenario.input ? { outcome } : fail('stdin not echoed');
    case 'timeout':
    case 'timeout-tree':
      // "started" proves the command ran before the timeout ended it (a positive control).
      return result.timedOut && result.exitCode === 124
        ? { outcome }
        : fail('the timeout did not end it with 124');
    default:
      // An abort that came too late leaves a normal result; an earlier one says aborted.
      return result.aborted || result.exitCode === 0 ? { outcome } : fail('unexpected status');
  }
}

function checkRejection(scenario: Scenario, error: unknown): Checked {
  if (!(error instanceof EncageError)) {
    return {
      outcome: 'rejected:untyped',
      failure: `untyped rejection: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`,
    };
  }
  const outcome = `rejected:${error.code}`;
  if (error.code === 'ABORTED' && scenario.kind.startsWith('abort-')) return { outcome };
  return { outcome, failure: `rejected: ${error.code} ${error.message}` };
}

export interface HeapFigures {
  /** `heapUsed` after full collections. */
  readonly used: number;
  /** Of it, compiled code (V8 keeps optimising hot paths: growth there is not retained data). */
  readonly code: number;
  /** What the program holds: used minus code. */
  readonly data: number;
}

const CODE_SPACES = new Set(['code_space', 'code_large_object_space']);

/** The heap after full collections (needs `--expose-gc` or the flag set at run time). */
export async function settledHeap(gc: () => void): Promise<HeapFigures> {
  for (let round = 0; round < 3; round++) {
    gc();
    await sleep(50);
  }
  gc();
  const used = process.memoryUsage().heapUsed;
  const code = getHeapSpaceStatistics()
    .filter((space) => CODE_SPACES.has(space.space_name))
    .reduce((sum, space) => sum + space.space_used_size, 0);
  return { used, code, data: used - code };
}

export interface LiveSighting {
  provider: string;
  processes: number;
  mounts: number;
  tempDirs: number;
  cgroups: number;
  containers: number;
}

/**
 * Positive control for the leak scans: while one sandboxed command runs (with cgroup limits
 * where the provider has them), counts what the scans see of it. A scan that sees nothing of a
 * live run could not see a leaked one either.
 */
export async function sightLiveRun(
  manager: Manager,
  target: SoakTarget,
  workdir: string,
  marker: string,
  scan: {
    processes: () => unknown[];
    mounts: () => unknown[];
    tempDirs: () => Promise<unknown[]>;
    cgroups: () => unknown[];
    containers: () => Promise<unknown[]>;
  },
): Promise<LiveSighting> {
  const controller = new AbortController();
  const limits = target.provider.capabilities.limits.includes('pids') ? { pids: 64 } : {};
  const running = await manager.spawn(
    {
      provider: target.provider.name,
      workdir,
      ...target.spec,
      env: { PATH: '/usr/bin:/bin', ENCAGE_REL_MARKER: marker },
      limits,
    },
    'sh',
    ['-c', 'echo ready; sleep 60', marker],
    { signal: controller.signal, buffer: false },
  );
  const stdout = running.subprocess.stdout;
  if (stdout) await once(stdout, 'data');
  const sighting = {
    provider: target.provider.name,
    processes: scan.processes().length,
    mounts: scan.mounts().length,
    tempDirs: (await scan.tempDirs()).length,
    cgroups: scan.cgroups().length,
    containers: (await scan.containers()).length,
  };
  controller.abort();
  await running.result;
  return sighting;
}
