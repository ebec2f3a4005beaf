import { existsSync, readdirSync } from 'node:fs';
import { chmod, chown, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Manager } from '../../../src/manager/manager.js';
import { createDockerProvider } from '../../../src/providers/docker/index.js';
import { DEFAULT_PATH, type SandboxSpecInput } from '../../../src/spec.js';
import {
  DOCKER_ENABLED,
  ownContainers,
  RUNSC_ENABLED,
  TEST_IMAGE,
  testEngine,
} from '../../helpers/docker.js';

const RUNTIMES = [
  { label: 'runc', enabled: DOCKER_ENABLED, gvisor: false, options: {} },
  { label: 'runsc', enabled: RUNSC_ENABLED, gvisor: true, options: { runtime: 'runsc' } },
];
const MARKER = 'encage-marker-ok';
/** The default container user when encage runs as root and the workdir is root's: nobody. */
const NOBODY = 65_534;
const DEFAULT_UID = process.getuid?.() === 0 ? NOBODY : (process.getuid?.() ?? NOBODY);

/** Hands a test dir to the default container user, as a user must when running as root. */
async function giveToSandboxUser(dir: string): Promise<void> {
  if (process.getuid?.() === 0) await chown(dir, NOBODY, NOBODY);
}

describe.each(RUNTIMES)('docker ($label) isolation', ({ enabled, gvisor, options }) => {
  let manager: Manager;
  let workdir: string;
  let outside: string;
  const spec = (extra: Partial<SandboxSpecInput> = {}): SandboxSpecInput => ({
    provider: 'docker',
    workdir,
    ...extra,
    options: { image: TEST_IMAGE, ...options, ...extra.options },
  });
  const sh = (script: string, extra: Partial<SandboxSpecInput> = {}) =>
    manager.run(spec(extra), 'sh', ['-c', script]);

  beforeAll(async () => {
    if (!enabled) return;
    manager = new Manager({ providers: [createDockerProvider()], cleanupOnSignal: false });
    workdir = await mkdtemp(path.join(tmpdir(), 'encage-docker-sec-'));
    await giveToSandboxUser(workdir);
    outside = await mkdtemp(path.join(tmpdir(), 'encage-docker-outside-'));
    await writeFile(path.join(outside, 'secret.txt'), 'host-secret\n');
  });
  afterAll(async () => {
    if (!enabled) return;
    await manager.close();
    await rm(workdir, { recursive: true, force: true });
    await rm(outside, { recursive: true, force: true });
    expect(await ownContainers()).toEqual([]);
  });

  describe.runIf(enabled)('as the sandboxed command', () => {
    it('runs as the configured non-root user with no capabilities', async () => {
      const result = await sh(`id -u; id -g; grep CapEff /proc/self/status; echo ${MARKER}`, {
        options: { user: '65534:65534' },
      });
      expect(result.stdout).toMatch(new RegExp(`^65534\\n65534\\nCapEff:\\s+0+\\n${MARKER}\\n$`));
    });

    it('runs as a non-root user by default, without capabilities', async () => {
      const result = await sh(`id -u; grep CapEff /proc/self/status; echo ${MARKER}`);
      expect(DEFAULT_UID).not.toBe(0);
      expect(result.stdout).toMatch(new RegExp(`^${DEFAULT_UID}\\nCapEff:\\s+0+\\n${MARKER}\\n$`));
    });

    it('cannot see the docker socket, even when /run and /var/run are granted', async () => {
      const grants = ['/run', '/var/run'].filter((p) => existsSync(p));
      const hostRunBefore = readdirSync('/run').sort();
      const result = await manager.run(
        spec({ readOnly: grants }),
        'sh',
        [
          '-c',
          `ls /run 2>/dev/null | grep -q . && echo ${MARKER}; for s in /run/docker.sock /var/run/docker.sock; do [ -S "$s" ] && echo "socket $s"; [ -s "$s" ] && echo "data $s"; done; sh /.encage/user.sh; echo done`,
        ],
        { scripts: [{ innerPath: 'user.sh', mode: 0o755, contents: 'echo user-script\n' }] },
      );
      expect(result.stdout).toBe(`${MARKER}\nuser-script\ndone\n`);
      // The scripts moved out of the granted /run: no mount point was made in the host's /run.
      expect(readdirSync('/run').sort()).toEqual(hostRunBefore);
      const plain = await sh(`echo ${MARKER}; ls -l /var/run/docker.sock /run/docker.sock 2>&1`);
      expect(plain.stdout).toContain(MARKER);
      expect(plain.stdout).not.toMatch(/^s/m);
    });

    it('cannot write the image root, but can write the workdir, /tmp and HOME', async () => {
      const result = await sh(
        `touch /etc/x 2>/dev/null || echo root-ro; touch /x 2>/dev/null || echo slash-ro; ` +
          `touch ./w /tmp/t "$HOME/h" && echo ${MARKER}`,
        { env: { PATH: DEFAULT_PATH, HOME: '/home/sandbox' } },
      );
      expect(result.stdout).toBe(`root-ro\nslash-ro\n${MARKER}\n`);
    });

    it('cannot see host paths that were not granted', async () => {
      await writeFile(path.join(workdir, 'visible.txt'), 'visible\n');
      const result = await sh(
        `cat visible.txt; cat ${outside}/secret.txt 2>/dev/null || echo hidden`,
      );
      expect(result.stdout).toBe('visible\nhidden\n');
    });

    it('shows readOnly grants read-only and readWrite grants writable', async () => {
      const ro = await mkdtemp(path.join(tmpdir(), 'encage-docker-ro-'));
      const rw = await mkdtemp(path.join(tmpdir(), 'encage-docker-rw-'));
      try {
        await writeFile(path.join(ro, 'data'), 'ro-data\n');
        await chmod(ro, 0o755);
        await giveToSandboxUser(rw);
        const result = await sh(
          `cat ${ro}/data; touch ${ro}/new 2>/dev/null || echo ro-refused; echo hi > ${rw}/new && echo ${MARKER}`,
          { readOnly: [ro], readWrite: [rw] },
        );
        expect(result.stdout).toBe(`ro-data\nro-refused\n${MARKER}\n`);
        expect(existsSync(path.join(rw, 'new'))).toBe(true);
        expect(existsSync(path.join(ro, 'new'))).toBe(false);
      } finally {
        await rm(ro, { recursive: true, force: true });
        await rm(rw, { recursive: true, force: true });
      }
    });

    it('hides denied files and directories inside the workdir', async () => {
      await writeFile(path.join(workdir, '.env'), 'API_KEY=hunter2\n');
      await mkdir(path.join(workdir, 'private'), { recursive: true });
      await writeFile(path.join(workdir, 'private', 'key'), 'private-key\n');
      await writeFile(path.join(workdir, 'public.txt'), 'public\n');
      const result = await sh(
        `cat public.txt; cat .env; ls -A private; echo x > .env 2>/dev/null || echo env-ro; echo ${MARKER}`,
        { deny: ['.env', 'private'] },
      );
      expect(result.stdout).toBe(`public\nenv-ro\n${MARKER}\n`);
      expect(result.stdout).not.toContain('hunter2');
    });

    it('has no network but loopback', async () => {
      const result = await sh(
        `cat /proc/net/dev | tail -n +3 | cut -d: -f1 | tr -d ' '; echo ${MARKER}`,
      );
      expect(result.stdout.split('\n').filter(Boolean)).toEqual(['lo', MARKER]);
    });

    it('does not leak the image environment or docker defaults into the command', async () => {
      const result = await manager.run(spec({ env: { ONLY: 'me' } }), '/bin/env', []);
      const names = result.stdout
        .split('\n')
        .filter(Boolean)
        .map((line) => line.split('=')[0]);
      expect(names.filter((n) => !['PWD', 'SHLVL', '_', 'OLDPWD'].includes(n ?? ''))).toEqual([
        'ONLY',
      ]);
    });

    const pidsTitle = gvisor
      ? 'refuses a pids limit, which gVisor cannot apply to the command'
      : 'enforces the pids limit';
    it(pidsTitle, async () => {
      const script = `echo ${MARKER}; i=0; while [ $i -lt 12 ]; do sleep 5 & i=$((i+1)); done; echo all-started`;
      if (gvisor) {
        await expect(sh(script, { limits: { pids: 6 } })).rejects.toMatchObject({
          code: 'UNSUPPORTED_SPEC',
          path: 'spec.limits.pids',
        });
        return;
      }
      const result = await sh(script, { limits: { pids: 6 } });
      expect(result.stdout).toContain(MARKER);
      expect(result.stdout).not.toContain('all-started');
      expect(result.stderr).toMatch(/can't fork|Resource temporarily unavailable/i);
    });

    it('creates the container with the requested limits', async () => {
      const instance = await manager.prepare(
        spec({
          limits: { memoryBytes: 64 * 1024 ** 2, cpus: 0.5, ...(gvisor ? {} : { pids: 20 }) },
        }),
      );
      try {
        const inspect = await testEngine().json<{ HostConfig: Record<string, unknown> }>({
          path: `/containers/encage-${instance.id}/json`,
        });
        expect(inspect.HostConfig).toMatchObject({
          Memory: 64 * 1024 ** 2,
          NanoCpus: 500_000_000,
          ReadonlyRootfs: true,
          CapDrop: ['ALL'],
          NetworkMode: 'none',
        });
      } finally {
        await instance.teardown();
      }
    });
  });
});
