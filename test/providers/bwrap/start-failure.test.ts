import { readdirSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Manager } from '../../../src/manager/manager.js';
import { createBwrapProvider } from '../../../src/providers/bwrap/index.js';
import { BWRAP_ENABLED } from '../../helpers/backends.js';
import { rejection } from '../../helpers/errors.js';

/**
 * A sandbox that fails to start after check() passed is encage's failure (SPAWN_FAILED, with
 * bwrap's own words), not the command's exit status. bwrap's `--json-status-fd` tells them apart.
 */
describe.runIf(BWRAP_ENABLED)('bwrap: a sandbox that cannot start', () => {
  let workdir: string;
  let manager: Manager;
  beforeAll(async () => {
    workdir = await mkdtemp(path.join(tmpdir(), 'encage-start-failure-'));
    manager = new Manager({ providers: [createBwrapProvider()], cleanupOnSignal: false });
  });
  afterAll(async () => {
    await manager.close();
    await rm(workdir, { recursive: true, force: true });
  });

  const spec = (pids: number) => ({ provider: 'bwrap', workdir, limits: { pids } });
  const ownDirs = (): string[] =>
    readdirSync(tmpdir()).filter((name) => name.startsWith(`encage-bwrap-${process.pid}-`));

  it('fails with SPAWN_FAILED when bwrap cannot fork (pids 1), and runs with room to fork', async () => {
    const before = ownDirs();
    const error = await rejection(manager.run(spec(1), 'echo', ['ran']));
    expect(error.code).toBe('SPAWN_FAILED');
    expect(error.message).toContain('[bwrap] the sandbox did not start');
    expect(error.message).toMatch(/Resource temporarily unavailable/); // bwrap's own words
    expect(manager.instances()).toEqual([]);
    expect(ownDirs()).toEqual(before);
    // The same spec with room for bwrap's processes: the command runs.
    const ok = await manager.run(spec(64), 'echo', ['ran']);
    expect(ok).toMatchObject({ exitCode: 0, stdout: 'ran\n' });
  });

  it("keeps the command's own failures as its exit status", async () => {
    const failed = await manager.run(spec(64), 'sh', ['-c', 'echo out; exit 1']);
    expect(failed).toMatchObject({ exitCode: 1, stdout: 'out\n' });
    const missing = await manager.run(spec(64), 'no-such-command-here', []);
    expect(missing.exitCode).toBe(127);
    const killed = await manager.run(spec(64), 'sh', ['-c', 'kill -9 $$']);
    expect(killed.exitCode).toBe(137);
  });
});
