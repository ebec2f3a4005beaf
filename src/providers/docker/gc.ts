import path from 'node:path';
import { removeDir } from '../../util/temp-dir.js';
import { removeContainer } from './container.js';
import type { Engine } from './engine.js';
import { judgeOwner, LABEL_DIR, LABEL_INSTANCE } from './owner.js';

/** What one `collectGarbage` pass found and did. */
export interface GcReport {
  /** Names of containers removed because their owner is gone. */
  readonly removed: string[];
  /** Containers whose owning encage process still runs. */
  readonly kept: number;
  /** Containers made by encage on another host (their owner cannot be judged from here). */
  readonly otherHost: number;
  /** Containers that could not be removed, with the engine's reason. */
  readonly failed: { name: string; error: string }[];
}

interface ContainerSummary {
  Id: string;
  Names?: string[];
  Labels?: Record<string, string> | null;
}

/** The private dirs encage makes are named like this; gc removes nothing else. */
const OWNED_DIR_PATTERN = /^encage-docker-[A-Za-z0-9]+$/;

/**
 * Removes every encage container whose owner process is dead (or from an earlier boot of this
 * host), with its private host dir. Containers of live owners and of other hosts are kept.
 */
export async function collectGarbage(engine: Engine): Promise<GcReport> {
  const containers = await engine.json<ContainerSummary[]>({
    path: '/containers/json',
    query: { all: true, filters: JSON.stringify({ label: [LABEL_INSTANCE] }) },
  });
  const report = {
    removed: [] as string[],
    kept: 0,
    otherHost: 0,
    failed: [] as GcReport['failed'],
  };
  await Promise.all(
    containers.map(async (container) => {
      const labels = container.Labels ?? {};
      const name = (container.Names?.[0] ?? container.Id).replace(/^\//, '');
      const owner = judgeOwner(labels);
      if (owner === 'alive') return void (report.kept += 1);
      if (owner === 'other-host') return void (report.otherHost += 1);
      try {
        await removeContainer(engine, container.Id);
        report.removed.push(name);
      } catch (error) {
        report.failed.push({ name, error: (error as Error).message });
        return;
      }
      const dir = labels[LABEL_DIR];
      if (dir !== undefined && path.isAbsolute(dir) && OWNED_DIR_PATTERN.test(path.basename(dir)))
        await removeDir(dir).catch(() => undefined);
    }),
  );
  report.removed.sort();
  return report;
}
