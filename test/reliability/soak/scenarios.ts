import type { Capabilities, Limits } from '../../../src/index.js';
import type { createRandom } from '../helpers/scope.js';

type Random = ReturnType<typeof createRandom>;

/** What one soak run does, and so what its outcome must be. */
export type ScenarioKind =
  | 'ok'
  | 'exit'
  | 'both-streams'
  | 'stdin'
  | 'timeout'
  | 'timeout-tree'
  | 'abort-prepare'
  | 'abort-exec'
  | 'abort-random'
  | 'abort-teardown';

export interface Scenario {
  readonly kind: ScenarioKind;
  readonly index: number;
  readonly cmd: string;
  readonly args: string[];
  readonly limits: Limits;
  readonly input?: string;
  /** For `exit`: the status the command exits with. */
  readonly status?: number;
  /** For abort kinds: when to abort, in ms after the phase begins. */
  readonly abortAfterMs?: number;
}

const WEIGHTS: readonly [ScenarioKind, number][] = [
  ['ok', 26],
  ['exit', 14],
  ['both-streams', 8],
  ['stdin', 6],
  ['timeout', 8],
  ['timeout-tree', 5],
  ['abort-prepare', 9],
  ['abort-exec', 10],
  ['abort-random', 8],
  ['abort-teardown', 6],
];
const TOTAL_WEIGHT = WEIGHTS.reduce((sum, [, weight]) => sum + weight, 0);
/** Long enough that only a kill ends it: a leaked sleeper shows up in the process scan. */
const LONG_SLEEP_S = 60;
/** Share of runs on a provider with cgroup limits that ask for them. */
const LIMITED_SHARE = 0.25;

function pickKind(random: Random): ScenarioKind {
  let roll = random.next() * TOTAL_WEIGHT;
  for (const [kind, weight] of WEIGHTS) {
    roll -= weight;
    if (roll < 0) return kind;
  }
  return 'ok';
}

/** Random cgroup limits where the provider enforces them, so instance cgroups come and go. */
function pickLimits(random: Random, capabilities: Capabilities): Limits {
  if (capabilities.limits.length === 0 || random.next() >= LIMITED_SHARE) return {};
  const limits: { memoryBytes?: number; pids?: number; cpus?: number } = {};
  if (capabilities.limits.includes('pids')) limits.pids = random.int(64, 512);
  if (capabilities.limits.includes('memoryBytes') && random.next() < 0.5)
    limits.memoryBytes = random.int(64, 256) * 1024 * 1024;
  if (capabilities.limits.includes('cpus') && random.next() < 0.3) limits.cpus = 1;
  return limits;
}

/**
 * One random run. Every command carries `marker` in its argv; the spec puts it in the
 * environment too, so a leaked process (even a `setsid` grandchild) is found by a /proc scan.
 */
export function createScenario(
  random: Random,
  index: number,
  marker: string,
  capabilities: Capabilities,
): Scenario {
  // The first runs take each kind once, so even a short soak covers them all.
  const kind = WEIGHTS[index]?.[0] ?? pickKind(random);
  const limits = pickLimits(random, capabilities);
  const sh = (script: string, ...rest: string[]): Pick<Scenario, 'cmd' | 'args'> => ({
    cmd: 'sh',
    args: ['-c', script, marker, ...rest],
  });
  const base = { kind, index, limits };
  switch (kind) {
    case 'ok':
      return { ...base, ...sh('echo "$0-$1"', String(index)) };
    case 'exit': {
      const status = random.int(1, 125);
      return { ...base, status, ...sh('echo "$0" >&2; exit "$1"', String(status)) };
    }
    case 'both-streams':
      return { ...base, ...sh('echo "out-$1"; echo "err-$1" >&2', String(index)) };
    case 'stdin':
      return { ...base, input: `in-${index}\n`, ...sh('cat') };
    case 'timeout':
      return {
        ...base,
        limits: { ...limits, timeoutMs: random.int(20, 300) },
        ...sh(`echo started; sleep ${LONG_SLEEP_S}; echo late`),
      };
    case 'timeout-tree': {
      // A tree of sleepers; where the provider kills whole trees, one escapes into its own session.
      const escape = capabilities.killsTree ? `setsid sleep ${LONG_SLEEP_S} & ` : '';
      return {
        ...base,
        limits: { ...limits, timeoutMs: random.int(50, 400) },
        ...sh(`${escape}sleep ${LONG_SLEEP_S} & sleep ${LONG_SLEEP_S} & echo started; wait`),
      };
    }
    case 'abort-prepare':
      return { ...base, abortAfterMs: random.int(0, 3), ...sh('echo "$0"') };
    case 'abort-exec':
      return {
        ...base,
        abortAfterMs: random.int(0, 40),
        ...sh(`echo ready; sleep ${LONG_SLEEP_S}`),
      };
    case 'abort-random':
      return {
        ...base,
        abortAfterMs: random.int(0, 150),
        ...sh(`sleep 0.0$1; echo "$0"`, String(random.int(0, 9))),
      };
    case 'abort-teardown':
      return { ...base, abortAfterMs: 0, ...sh('echo "$0"') };
  }
}
