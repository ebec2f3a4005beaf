import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, rmdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collectHostGarbage } from '../src/host-gc.js';
import { cgroupName, detectCgroups } from '../src/providers/bwrap/cgroups.js';

/** The pid of a process that has exited (and was reaped). */
async function deadPid(): Promise<number> {
  const child = execa('true');
  await child;
  const pid = child.pid;
  if (pid === undefined) throw new Error('no pid');
  return pid;
}

describe('collectHostGarbage', () => {
  let tmp: string;
  beforeAll(async () => {
    tmp = await mkdtemp(path.join(tmpdir(), 'encage-gc-test-'));
  });
  afterAll(() => rm(tmp, { recursive: true, force: true }));

  it('removes temp dirs whose owner died and keeps those of live owners and strangers', async () => {
    const dead = await deadPid();
    const names = {
      orphan: `encage-bwrap-${dead}-AbC123`,
      orphanDocker: `encage-docker-${dead}-xyz789`,
      live: `encage-bwrap-${process.pid}-QwErTy`,
      stranger: 'encage-bwrap-notapid',
      other: 'something-else',
    };
    for (const name of Object.values(names))
      await mkdir(path.join(tmp, name, 'scripts'), { recursive: true });
    const report = await collectHostGarbage(tmp);
    expect(report.removedDirs.sort()).toEqual(
      [names.orphan, names.orphanDocker].map((name) => path.join(tmp, name)).sort(),
    );
    expect((await readdir(tmp)).sort()).toEqual([names.live, names.other, names.stranger].sort());
    expect(report.kept).toBeGreaterThanOrEqual(1);
  });

  it("removes empty cgroups named by a dead owner and keeps a live owner's", async () => {
    const mode = detectCgroups();
    if (mode.kind === 'none') {
      // bwrap's limits need cgroups: CI's machine has them, so there their absence is a failure.
      expect(process.env.CI, `cgroups unavailable: ${mode.why}`).not.toBe('true');
      // Not enforceable here: nothing of encage's can be in a cgroup to collect.
      expect((await collectHostGarbage(tmp)).removedCgroups).toEqual([]);
      return;
    }
    const parent =
      mode.kind === 'v2' ? path.join(mode.root, 'encage') : path.join(mode.root, 'pids', 'encage');
    await mkdir(parent, { recursive: true });
    const orphan = path.join(parent, cgroupName('0ddba11', await deadPid()));
    const live = path.join(parent, cgroupName('5eed', process.pid));
    await mkdir(orphan);
    await mkdir(live);
    try {
      const report = await collectHostGarbage(tmp);
      expect(report.removedCgroups).toContain(orphan);
      expect(report.removedCgroups).not.toContain(live);
      expect(existsSync(orphan)).toBe(false);
      expect(existsSync(live)).toBe(true);
    } finally {
      await rmdir(live).catch(() => undefined);
      await rmdir(orphan).catch(() => undefined);
    }
  });
});
