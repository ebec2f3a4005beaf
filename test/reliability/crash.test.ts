import { readdirSync } from 'node:fs';
import { rm, mkdtemp } from 'node:fs/promises';
import { collectHostGarbage } from '../../src/host-gc.js';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BWRAP_ENABLED } from '../helpers/backends.js';
import { createScriptsDir, readyLine, writeChildScript } from './helpers/child.js';
import { atLeastWithin, emptyWithin, encageCgroups, processesWith } from './helpers/leaks.js';
import { createMarker } from './helpers/scope.js';

const CHILD_TIMEOUT_MS = 60_000;
/** The promise: 5 s after the Manager died, nothing it sandboxed still runs. */
const AFTERLIFE_MS = 5_000;
const RUNS = 3;
/** The child asks only for `limits.pids`: one cgroup per run (the pids hierarchy, or v2's one). */
const CGROUP_CONTROLLERS = 1;

/** A Manager running sandboxed process trees (one escapes into its own session), then idling. */
const CRASH_CHILD = `
import { Manager } from '{{index}}';
import { createBwrapProvider } from '{{bwrap}}';
const [workdir, marker, runs] = process.argv.slice(2);
const manager = new Manager({ providers: [createBwrapProvider()], cleanupOnSignal: true });
const spec = {
  provider: 'bwrap',
  workdir,
  env: { PATH: '/usr/bin:/bin', ENCAGE_REL_MARKER: marker },
  limits: { pids: 64 },
};
const ids = [];
for (let i = 0; i < Number(runs); i++) {
  const running = await manager.spawn(spec, 'sh',
    ['-c', 'setsid sleep 60 & sleep 60 & sleep 60 & echo ready; wait', marker], { buffer: false });
  ids.push(running.instance.id);
  await new Promise((resolve) => running.subprocess.stdout.once('data', resolve));
}
console.log(JSON.stringify({ ready: true, pid: process.pid, ids }));
setInterval(() => undefined, 1000);
`;

describe.runIf(BWRAP_ENABLED)('crash safety: the Manager is killed with SIGKILL mid-run', () => {
  let scratch: string;
  beforeAll(async () => {
    scratch = await createScriptsDir('crash');
  });
  afterAll(() => rm(scratch, { recursive: true, force: true }));

  it(
    'leaves no bwrap-sandboxed process alive 5 s later, setsid escapees included',
    async () => {
      const script = await writeChildScript(scratch, 'crash-child', CRASH_CHILD);
      const workdir = await mkdtemp(path.join(scratch, 'workdir-'));
      const tmp = await mkdtemp(path.join(scratch, 'tmp-'));
      const marker = createMarker('crash');
      const child = execa('node', [script, workdir, marker, String(RUNS)], {
        reject: false,
        timeout: CHILD_TIMEOUT_MS,
        env: { TMPDIR: tmp },
        extendEnv: true,
      });
      const ready = await readyLine<{ pid: number; ids: string[] }>(child);
      // Positive control: per run the wrapper/bwrap pair, the shell and three sleepers carry the marker.
      const sleepers = () =>
        processesWith(marker).filter(({ cmdline }) => cmdline.startsWith('sleep'));
      // (`setsid sleep` may take a moment to become `sleep`.)
      expect(await atLeastWithin(sleepers, RUNS * 3, 5_000)).toHaveLength(RUNS * 3);
      expect(processesWith(marker).length).toBeGreaterThanOrEqual(RUNS * 4);
      process.kill(ready.pid, 'SIGKILL');
      const result = await child;
      expect(result.signal).toBe('SIGKILL');
      expect(await emptyWithin(() => processesWith(marker), AFTERLIFE_MS)).toEqual([]);
      // What SIGKILL cannot clean, the temp dirs and empty cgroups named by the dead pid, is
      // `encage gc`'s: it removes exactly those (positive control: they are there before).
      const owned = (entry: string) => path.basename(entry).startsWith(`${ready.pid}-`);
      expect(encageCgroups().filter(owned)).toHaveLength(RUNS * CGROUP_CONTROLLERS);
      const dirs = () => readdirSync(tmp).filter((name) => name.startsWith('encage-bwrap-'));
      expect(dirs()).toHaveLength(RUNS);
      const report = await collectHostGarbage(tmp);
      expect(report.removedDirs).toHaveLength(RUNS);
      expect(dirs()).toEqual([]);
      expect(encageCgroups().filter(owned)).toEqual([]);
      expect(report.removedCgroups.every(owned)).toBe(true);
    },
    CHILD_TIMEOUT_MS,
  );
});
