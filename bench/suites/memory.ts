import { readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { parseSpec, type Instance } from 'encage';
import type { BenchContext } from '../lib/context.js';
import { skipped } from '../lib/figure.js';
import { pool, progress, round } from '../lib/stats.js';
import type { Figure } from '../lib/types.js';

const GROUP = 'memory';
const PREPARE_CONCURRENCY = 8;
const CGROUP_ROOT = '/sys/fs/cgroup';

function collectGarbage(): void {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  gc();
  gc();
}

function heap(): { heapUsed: number; rss: number; external: number } {
  collectGarbage();
  const usage = process.memoryUsage();
  return {
    heapUsed: usage.heapUsed,
    rss: usage.rss,
    external: usage.external + usage.arrayBuffers,
  };
}

function listTemp(prefix: string): Set<string> {
  return new Set(readdirSync(tmpdir()).filter((name) => name.startsWith(prefix)));
}

/** cgroup dirs left under any `encage` parent (v1: per controller; v2: one). */
function listCgroups(): string[] {
  const found: string[] = [];
  const parents = [path.join(CGROUP_ROOT, 'encage')];
  try {
    for (const controller of readdirSync(CGROUP_ROOT))
      parents.push(path.join(CGROUP_ROOT, controller, 'encage'));
  } catch {
    // no cgroup fs
  }
  for (const parent of parents) {
    try {
      for (const entry of readdirSync(parent, { withFileTypes: true }))
        if (entry.isDirectory()) found.push(path.join(parent, entry.name));
    } catch {
      // absent
    }
  }
  return found;
}

/** Heap and RSS per live prepared bwrap instance, then teardown of all and a leftover check. */
export async function benchMemory(ctx: BenchContext): Promise<Figure[]> {
  const count = ctx.settings.memoryInstances;
  const label = `bwrap: ${count} prepared instances alive`;
  const why = ctx.unavailable.get('bwrap');
  if (why !== undefined)
    return [
      skipped(
        {
          id: 'memory.bwrap',
          group: GROUP,
          label,
          short: 'bwrap heap per instance',
          unit: 'KiB/instance',
        },
        `bwrap unavailable: ${why}`,
      ),
    ];
  const spec = parseSpec({ provider: 'bwrap' });
  const tempBefore = listTemp('encage-bwrap-');
  const cgroupsBefore = new Set(listCgroups());
  const liveBefore = ctx.manager.instances().length;
  const before = heap();
  progress(`memory: preparing ${count} bwrap instances`);
  const instances: Instance[] = [];
  let started = performance.now();
  await pool(count, PREPARE_CONCURRENCY, async () => {
    instances.push(await ctx.manager.prepare(spec, [], { invocation: { cmd: 'true', args: [] } }));
  });
  const prepareMs = performance.now() - started;
  const during = heap();
  const tempDuring = listTemp('encage-bwrap-').size - tempBefore.size;
  progress(`memory: tearing down ${count} instances`);
  started = performance.now();
  await Promise.all(instances.map((instance) => instance.teardown()));
  const teardownMs = performance.now() - started;
  instances.length = 0;
  const after = heap();
  const leftTemp = [...listTemp('encage-bwrap-')].filter((name) => !tempBefore.has(name)).length;
  const leftCgroups = listCgroups().filter((dir) => !cgroupsBefore.has(dir)).length;
  const leftLive = ctx.manager.instances().length - liveBefore;
  const clean = leftTemp === 0 && leftCgroups === 0 && leftLive === 0;
  if (!clean)
    progress(
      `memory: LEFTOVERS after teardown: ${leftTemp} temp dirs, ${leftCgroups} cgroups, ${leftLive} tracked instances`,
    );
  const kib = (bytes: number): number => round(bytes / 1024 / count);
  const perInstanceHeap = kib(during.heapUsed - before.heapUsed);
  const stat = (value: number) => ({
    n: 1,
    median: value,
    p95: value,
    mean: value,
    min: value,
    max: value,
  });
  return [
    {
      id: 'memory.bwrap',
      group: GROUP,
      label,
      short: 'bwrap heap per live instance',
      unit: 'KiB/instance',
      better: 'lower',
      encage: stat(perInstanceHeap),
      referenceLabel: null,
      reference: null,
      ratio: null,
      target: null,
      note: clean
        ? `heap per live instance; teardown left nothing (${tempDuring} temp dirs came and went)`
        : `LEFTOVERS after teardown: ${leftTemp} temp dirs, ${leftCgroups} cgroups, ${leftLive} tracked instances`,
      extra: {
        instances: count,
        heapKiBPerInstance: perInstanceHeap,
        rssKiBPerInstance: kib(during.rss - before.rss),
        externalKiBPerInstance: kib(during.external - before.external),
        heapMiBBefore: round(before.heapUsed / 1024 ** 2),
        heapMiBLive: round(during.heapUsed / 1024 ** 2),
        heapMiBAfterTeardown: round(after.heapUsed / 1024 ** 2),
        rssMiBBefore: round(before.rss / 1024 ** 2),
        rssMiBLive: round(during.rss / 1024 ** 2),
        rssMiBAfterTeardown: round(after.rss / 1024 ** 2),
        prepareMsPerInstance: round(prepareMs / count),
        teardownMsPerInstance: round(teardownMs / count),
        tempDirsWhileLive: tempDuring,
        leftoverTempDirs: leftTemp,
        leftoverCgroups: leftCgroups,
        leftoverTrackedInstances: leftLive,
        clean,
      },
    },
  ];
}
