import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { gcCommand } from '../../../src/cli/gc.js';
import { collectGarbage } from '../../../src/providers/docker/index.js';
import { readBootId, readStartTime } from '../../../src/providers/docker/owner.js';
import { DOCKER_ENABLED, TEST_IMAGE, testEngine } from '../../helpers/docker.js';

async function exists(name: string): Promise<boolean> {
  try {
    await testEngine().request({ path: `/containers/${name}/json` });
    return true;
  } catch {
    return false;
  }
}

describe.runIf(DOCKER_ENABLED)('collectGarbage', () => {
  const engine = testEngine();
  const created: string[] = [];
  let dir: string;

  async function createLabelled(name: string, labels: Record<string, string>): Promise<void> {
    await engine.request({
      method: 'POST',
      path: '/containers/create',
      query: { name },
      body: {
        Image: TEST_IMAGE,
        Entrypoint: ['sleep'],
        Cmd: ['2147483647'],
        Labels: { 'encage.instance': name, ...labels },
        HostConfig: { NetworkMode: 'none', LogConfig: { Type: 'none', Config: {} } },
      },
    });
    created.push(name);
    await engine.request({ method: 'POST', path: `/containers/${name}/start` });
  }

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'encage-docker-'));
  });
  afterAll(async () => {
    await Promise.all(
      created.map((name) =>
        engine
          .request({ method: 'DELETE', path: `/containers/${name}`, query: { force: true } })
          .catch(() => undefined),
      ),
    );
    await rm(dir, { recursive: true, force: true });
  });

  it('removes containers of dead owners with their dir, keeps live and foreign ones', async () => {
    const dead = await execa('sh', ['-c', 'echo $$']);
    const deadPid = dead.stdout.trim();
    const suffix = `${process.pid}-${Date.now()}`;
    const owner = { 'encage.owner-boot': readBootId(), 'encage.owner-host': hostname() };
    await createLabelled(`encage-gc-dead-${suffix}`, {
      ...owner,
      'encage.owner-pid': deadPid,
      'encage.owner-start': '1',
      'encage.dir': dir,
    });
    await createLabelled(`encage-gc-reboot-${suffix}`, {
      ...owner,
      'encage.owner-boot': 'an-earlier-boot',
      'encage.owner-pid': String(process.pid),
    });
    await createLabelled(`encage-gc-live-${suffix}`, {
      ...owner,
      'encage.owner-pid': String(process.pid),
      'encage.owner-start': readStartTime(process.pid) ?? '',
    });
    await createLabelled(`encage-gc-foreign-${suffix}`, {
      ...owner,
      'encage.owner-host': 'some-other-host',
      'encage.owner-pid': deadPid,
    });
    const report = await collectGarbage(engine);
    expect(report.removed).toEqual(
      expect.arrayContaining([`encage-gc-dead-${suffix}`, `encage-gc-reboot-${suffix}`]),
    );
    expect(report.removed).not.toContain(`encage-gc-live-${suffix}`);
    expect(report.kept).toBeGreaterThanOrEqual(1);
    expect(report.otherHost).toBeGreaterThanOrEqual(1);
    expect(await exists(`encage-gc-dead-${suffix}`)).toBe(false);
    expect(await exists(`encage-gc-live-${suffix}`)).toBe(true);
    expect(await exists(`encage-gc-foreign-${suffix}`)).toBe(true);
    expect(existsSync(dir)).toBe(false);
  });

  it('prints what `encage gc --json` removed and kept', async () => {
    const name = `encage-gc-cli-${process.pid}-${Date.now()}`;
    await createLabelled(name, {
      'encage.owner-boot': readBootId(),
      'encage.owner-host': hostname(),
      'encage.owner-pid': String(2 ** 22 + 1),
    });
    const write = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
    let code: number;
    let printed: string;
    try {
      code = await gcCommand({ json: true });
      printed = write.mock.calls.map(([chunk]) => String(chunk)).join('');
    } finally {
      write.mockRestore();
    }
    const report = JSON.parse(printed) as { removed: string[]; kept: number };
    expect(code).toBe(0);
    expect(report.removed).toContain(name);
    expect(await exists(name)).toBe(false);
  });
});

describe('encage gc without an engine', () => {
  it('fails with PROVIDER_UNAVAILABLE naming the address', async () => {
    await expect(gcCommand({}, 'unix:///nonexistent/docker.sock')).rejects.toMatchObject({
      code: 'PROVIDER_UNAVAILABLE',
      message: expect.stringContaining('/nonexistent/docker.sock') as unknown,
    });
  });
});
