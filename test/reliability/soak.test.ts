import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Manager, createScriptdirProvider } from '../../src/index.js';
import { createBwrapProvider } from '../../src/providers/bwrap/index.js';
import { BWRAP_ENABLED } from '../helpers/backends.js';
import { createDockerProvider } from '../../src/providers/docker/index.js';
import { DOCKER_ENABLED, TEST_IMAGE } from '../helpers/docker.js';
import { exposeGc } from './helpers/gc.js';
import {
  encageCgroups,
  encageContainers,
  entriesOf,
  findLeaks,
  leftovers,
  MARKER_LABEL,
  mountsWith,
  NO_LEAKS,
  openLeakScope,
  processesWith,
} from './helpers/leaks.js';
import { createMarker, usePrivateTmp } from './helpers/scope.js';
import { runSoak, settledHeap, sightLiveRun, type SoakTarget } from './soak/engine.js';

/**
 * Counts come from the environment: `npm run soak` (scripts/soak.sh) sets the full ones; plain
 * `npm test` runs this reduced soak (1,000 bwrap, 300 scriptdir, 100 docker).
 */
const COUNTS = {
  scriptdir: count('ENCAGE_SOAK_SCRIPTDIR', 300),
  bwrap: count('ENCAGE_SOAK_BWRAP', 1_000),
  docker: count('ENCAGE_SOAK_DOCKER', 100),
};
const CONCURRENCY = count('ENCAGE_SOAK_CONCURRENCY', 64);
const SEED = count('ENCAGE_SOAK_SEED', Math.floor(Math.random() * 2 ** 31));
/**
 * Runs per provider before the heap baseline, so that lazily built state (JIT code, caches of
 * node and execa) is in it: after a few hundred runs the heap of a Manager stays flat.
 */
const WARMUP_RUNS = { scriptdir: 500, bwrap: 500, docker: 50 };
const HEAP_TOLERANCE = 0.1;
/** Generous per-run budget for the test timeout: 2 cores, bwrap start-up, timeouts in the mix. */
const BUDGET_MS_PER_RUN = { scriptdir: 40, bwrap: 80, docker: 2_000 };

function count(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0) throw new Error(`${name}=${raw}: not a count`);
  return value;
}

const DOCKER_ON = DOCKER_ENABLED && COUNTS.docker > 0;
const budgetMs =
  120_000 +
  COUNTS.scriptdir * BUDGET_MS_PER_RUN.scriptdir +
  (BWRAP_ENABLED ? COUNTS.bwrap * BUDGET_MS_PER_RUN.bwrap : 0) +
  (DOCKER_ON ? COUNTS.docker * BUDGET_MS_PER_RUN.docker : 0);

describe('soak: one-shot runs mixing success, failure, timeouts and aborts', () => {
  let tmp: ReturnType<typeof usePrivateTmp>;
  let workdir: string;
  beforeAll(async () => {
    workdir = await mkdtemp(path.join(tmpdir(), 'rel-soak-workdir-'));
    tmp = usePrivateTmp('soak'); // from here on, only the providers write there
  });
  afterAll(async () => {
    tmp.restore();
    await rm(workdir, { recursive: true, force: true });
  });

  it(
    'runs every provider many times, concurrently, and leaves no process, mount, temp dir, cgroup, container or heap behind',
    async () => {
      const gc = exposeGc();
      const marker = createMarker('soak');
      const providers: SoakTarget[] = [
        { provider: createScriptdirProvider(), runs: COUNTS.scriptdir },
      ];
      if (BWRAP_ENABLED) providers.push({ provider: createBwrapProvider(), runs: COUNTS.bwrap });
      if (DOCKER_ON)
        providers.push({
          provider: createDockerProvider(),
          runs: COUNTS.docker,
          spec: { options: { image: TEST_IMAGE }, labels: { [MARKER_LABEL]: marker } },
        });
      const scope = openLeakScope(marker, tmp.dir, DOCKER_ON);
      const manager = new Manager({
        providers: providers.map((entry) => entry.provider),
        concurrency: CONCURRENCY,
        cleanupOnSignal: false,
      });
      // Never aborted: runs that share it show whether listeners pile up on a long-lived signal.
      const shared = new AbortController();
      const soak = { manager, workdir, marker, concurrency: CONCURRENCY, shared: shared.signal };

      const sightings = [];
      for (const target of providers) {
        sightings.push(
          await sightLiveRun(manager, target, workdir, marker, {
            processes: () => processesWith(marker),
            mounts: () => mountsWith(tmp.dir),
            tempDirs: () => entriesOf(tmp.dir),
            cgroups: () => encageCgroups().filter((dir) => !scope.cgroupsBefore.includes(dir)),
            containers: async () => (await encageContainers(marker)) ?? [],
          }),
        );
      }
      const warmup = providers.map((entry) => ({
        ...entry,
        runs: WARMUP_RUNS[entry.provider.name as keyof typeof WARMUP_RUNS],
      }));
      const warm = await runSoak({ ...soak, targets: warmup, seed: SEED + 1 });
      const heapBefore = await settledHeap(gc);
      const started = performance.now();
      const stats = await runSoak({
        ...soak,
        targets: providers,
        seed: SEED,
        onProgress: (name, done, total) => console.log(`soak ${name}: ${done}/${total}`),
      });
      const durationMs = Math.round(performance.now() - started);
      const heapAfter = await settledHeap(gc);
      await manager.close();
      const leaks = await findLeaks(scope);

      const summary = {
        seed: SEED,
        concurrency: CONCURRENCY,
        liveSightings: sightings,
        durationMs,
        perProvider: stats.map(({ failures, ...rest }) => ({ ...rest, failed: failures.length })),
        heap: {
          beforeMiB: mib(heapBefore.used),
          afterMiB: mib(heapAfter.used),
          codeBeforeMiB: mib(heapBefore.code),
          codeAfterMiB: mib(heapAfter.code),
          dataGrowth: percent(heapBefore.data, heapAfter.data),
          usedGrowth: percent(heapBefore.used, heapAfter.used),
        },
        checked: leaks.checked,
        leftovers: leftovers(leaks),
      };
      console.log(`soak summary ${JSON.stringify(summary, null, 2)}`);
      if (process.env.ENCAGE_SOAK_REPORT)
        await writeFile(process.env.ENCAGE_SOAK_REPORT, JSON.stringify(summary, null, 2));

      for (const sighting of sightings) {
        const { provider } = sighting;
        const capabilities = manager.providers().find((p) => p.name === provider)?.capabilities;
        expect(sighting.processes, provider).toBeGreaterThan(0);
        expect(sighting.tempDirs, provider).toBeGreaterThan(0);
        if (capabilities?.filesystem) expect(sighting.mounts, provider).toBeGreaterThan(0);
        // Containers keep their cgroups under docker's own tree; bwrap makes encage/<id>.
        if (provider === 'docker') expect(sighting.containers, provider).toBeGreaterThan(0);
        else if (capabilities?.limits.includes('pids'))
          expect(sighting.cgroups, provider).toBeGreaterThan(0);
      }
      expect(warm.flatMap((entry) => entry.failures)).toEqual([]);
      for (const entry of stats) {
        expect(entry.failures.slice(0, 20), entry.provider).toEqual([]);
        // Positive controls: the mix really ran, timed out and aborted on this provider (when
        // it was given runs: `npm run soak -- --bwrap 0` skips one).
        if (entry.runs === 0) continue;
        expect(entry.outcomes['exit:0'], entry.provider).toBeGreaterThan(0);
        expect(entry.outcomes['exit:non-zero'], entry.provider).toBeGreaterThan(0);
        expect(entry.outcomes.timedOut, entry.provider).toBeGreaterThan(0);
        expect(entry.outcomes.aborted, entry.provider).toBeGreaterThan(0);
      }
      expect(leftovers(leaks)).toEqual(NO_LEAKS);
      // Retained data must come back; compiled code may grow while V8 keeps optimising.
      expect(heapAfter.data).toBeLessThanOrEqual(heapBefore.data * (1 + HEAP_TOLERANCE));
    },
    budgetMs,
  );
});

function percent(before: number, after: number): string {
  return `${(((after - before) / before) * 100).toFixed(1)}%`;
}

function mib(bytes: number): number {
  return Math.round((bytes / 1024 / 1024) * 10) / 10;
}
