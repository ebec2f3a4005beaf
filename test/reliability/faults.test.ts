import { execFileSync } from 'node:child_process';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Manager, type Provider } from '../../src/index.js';
import { createBwrapProvider } from '../../src/providers/bwrap/index.js';
import { BWRAP_ENABLED } from '../helpers/backends.js';
import { rejection } from '../helpers/errors.js';
import { createScriptsDir, writeChildScript } from './helpers/child.js';
import { encageCgroups, entriesOf, processesWith, settledNew } from './helpers/leaks.js';
import { openBench, realProviders, REAL_PROVIDER_NAMES, SANDBOX_PATH } from './helpers/manager.js';
import { createMarker, usePrivateTmp, withTmpdir } from './helpers/scope.js';

/** What bwrap 0.8 prints when the kernel refuses unprivileged user namespaces. */
const USERNS_REFUSED =
  "bwrap: No permissions to creating new namespace, likely because the kernel does not allow non-privileged user namespaces. On e.g. debian this can be enabled with 'sysctl kernel.unprivileged_userns_clone=1'.";
const TINY_TMPFS = 'size=64k';
const FD_LIMIT = 256;
/** Descriptors left free after exhausting them: from none to enough for a whole run. */
const FD_SLACKS = [0, 1, 2, 3, 4, 5, 6, 8, 12];
const CHILD_TIMEOUT_MS = 60_000;
const IS_ROOT = process.getuid?.() === 0;

describe('faults: the bwrap binary', () => {
  let scratch: string;
  let tmp: ReturnType<typeof usePrivateTmp>;
  let workdir: string;
  beforeAll(async () => {
    scratch = await createScriptsDir('faults-bwrap');
    workdir = await mkdtemp(path.join(tmpdir(), 'rel-faults-workdir-'));
    tmp = usePrivateTmp('faults-bwrap');
  });
  afterAll(async () => {
    tmp.restore();
    await rm(scratch, { recursive: true, force: true });
    await rm(workdir, { recursive: true, force: true });
  });

  /** Manager.run with `provider` must fail with PROVIDER_UNAVAILABLE and create nothing. */
  async function expectUnavailable(provider: Provider, reason: RegExp): Promise<void> {
    const availability = await provider.check();
    expect(availability.available).toBe(false);
    expect(availability.reason).toMatch(reason);
    const marker = createMarker('bwrap-fault');
    const cgroupsBefore = encageCgroups();
    const manager = new Manager({ providers: [provider], cleanupOnSignal: false });
    const error = await rejection(
      manager.run({ provider: 'bwrap', workdir, env: { PATH: SANDBOX_PATH } }, 'echo', [marker]),
    );
    expect(error.code).toBe('PROVIDER_UNAVAILABLE');
    expect(error.message).toMatch(reason);
    await manager.close();
    expect(await entriesOf(tmp.dir)).toEqual([]);
    expect(processesWith(marker)).toEqual([]);
    expect(await settledNew(cgroupsBefore, encageCgroups)).toEqual([]);
  }

  it('reports a missing bwrap as unavailable, with the package to install', async () => {
    await expectUnavailable(
      createBwrapProvider({ bwrapPath: '/nonexistent/bwrap' }),
      /not found.*apt-get install bubblewrap/,
    );
  });

  it('reports a bwrap that is not executable, and the same file with +x works', async () => {
    const file = path.join(scratch, 'bwrap-no-x');
    await writeFile(file, '#!/bin/sh\nexec bwrap "$@"\n', { mode: 0o644 });
    await chmod(file, 0o644);
    await expectUnavailable(createBwrapProvider({ bwrapPath: file }), /not executable/);
    if (!BWRAP_ENABLED) return;
    await chmod(file, 0o755); // positive control: only the missing x bit was wrong
    expect((await createBwrapProvider({ bwrapPath: file }).check()).available).toBe(true);
  });

  it('explains refused user namespaces with the sysctl that allows them', async () => {
    const file = path.join(scratch, 'bwrap-userns-refused');
    await writeFile(file, `#!/bin/sh\necho "${USERNS_REFUSED}" >&2\nexit 1\n`, { mode: 0o755 });
    await expectUnavailable(
      createBwrapProvider({ bwrapPath: file }),
      /user namespaces.*sysctl -w kernel\.unprivileged_userns_clone=1/,
    );
  });
});

describe.runIf(IS_ROOT || process.env.CI === 'true')('faults: the temp dir', () => {
  let mounts: string;
  let workdir: string;
  beforeAll(async () => {
    mounts = await mkdtemp(path.join(tmpdir(), 'rel-faults-tmpfs-'));
    workdir = await mkdtemp(path.join(tmpdir(), 'rel-faults-workdir-'));
  });
  afterAll(async () => {
    for (const name of ['full', 'readonly']) {
      try {
        execFileSync('umount', [path.join(mounts, name)], { stdio: 'ignore' });
      } catch {
        // not mounted
      }
    }
    await rm(mounts, { recursive: true, force: true });
    await rm(workdir, { recursive: true, force: true });
  });

  async function mountTmpfs(name: string, options: string): Promise<string> {
    const dir = path.join(mounts, name);
    await mkdir(dir);
    execFileSync('mount', ['-t', 'tmpfs', '-o', options, 'tmpfs', dir]);
    return dir;
  }

  /** Every real provider must fail to prepare with PREPARE_FAILED naming `dir`, leaving nothing. */
  async function expectPrepareFailed(dir: string, leftBehind: () => Promise<string[]>) {
    const manager = new Manager({ providers: realProviders(), cleanupOnSignal: false });
    const cgroupsBefore = encageCgroups();
    await withTmpdir(dir, async () => {
      for (const provider of REAL_PROVIDER_NAMES) {
        const marker = createMarker('tmp-fault');
        const error = await rejection(
          manager.run(
            {
              provider,
              workdir,
              env: { PATH: SANDBOX_PATH },
              limits: provider === 'bwrap' ? { pids: 64 } : {},
            },
            'echo',
            [marker],
          ),
        );
        expect(error.code, provider).toBe('PREPARE_FAILED');
        expect(error.message, provider).toContain(dir);
        expect(processesWith(marker)).toEqual([]);
      }
    });
    await manager.close();
    expect(await leftBehind()).toEqual([]);
    expect(await settledNew(cgroupsBefore, encageCgroups)).toEqual([]);
  }

  it('fails to prepare in a read-only TMPDIR, naming it', async () => {
    const dir = await mountTmpfs('readonly', `${TINY_TMPFS},ro`);
    await expectPrepareFailed(dir, () => entriesOf(dir));
  });

  it('fails to prepare in a full TMPDIR, naming it, and removes what it began', async () => {
    const dir = await mountTmpfs('full', TINY_TMPFS);
    const filler = path.join(dir, 'filler');
    // Fill it up: dd stops with ENOSPC, which is the point.
    await execa('dd', ['if=/dev/zero', `of=${filler}`, 'bs=4k'], { reject: false });
    const free = execFileSync('df', ['--output=avail', dir], { encoding: 'utf8' });
    expect(Number(free.trim().split('\n')[1])).toBe(0); // positive control: really full
    await expectPrepareFailed(dir, async () =>
      (await entriesOf(dir)).filter((entry) => entry !== filler),
    );
  });
});

describe('faults: the workdir vanishes between prepare and exec', () => {
  it.each(REAL_PROVIDER_NAMES)('fails %s clearly and still tears down', async (name) => {
    const bench = await openBench(`faults-workdir-${name}`);
    try {
      const real = bench.manager.providers().find((provider) => provider.name === name);
      if (!real) throw new Error(`no ${name}`);
      const vanishing: Provider = {
        name: 'vanishing',
        capabilities: real.capabilities,
        check: () => real.check(),
        async prepare(spec, scripts, options) {
          const instance = await real.prepare(spec, scripts, options);
          await rm(spec.workdir, { recursive: true, force: true });
          return instance;
        },
      };
      const manager = new Manager({ providers: [vanishing], cleanupOnSignal: false });
      const cgroupsBefore = encageCgroups();
      const limits = real.capabilities.limits.includes('pids') ? { pids: 64 } : {};
      const error = await rejection(
        manager.run(bench.spec('vanishing', { limits }), 'sh', ['-c', 'echo ran', bench.marker]),
      );
      expect(error.code).toBe('SPAWN_FAILED');
      expect(error.path).toBe(bench.workdir);
      expect(error.message).toMatch(/workdir .* no longer exists/);
      expect(manager.instances()).toEqual([]);
      expect(await entriesOf(bench.tmp)).toEqual([]);
      expect(await settledNew(cgroupsBefore, encageCgroups)).toEqual([]);
      await manager.close();
    } finally {
      await bench.close();
    }
  });
});

/** Exhausts its descriptors, then runs; one JSON line per attempt. Imports dist (built). */
const FD_CHILD = `
import { openSync, closeSync } from 'node:fs';
import { Manager, createScriptdirProvider, EncageError } from '{{index}}';
import { createBwrapProvider } from '{{bwrap}}';
const [provider, workdir, marker, ...slacks] = process.argv.slice(2);
const manager = new Manager({
  providers: [provider === 'bwrap' ? createBwrapProvider() : createScriptdirProvider()],
  cleanupOnSignal: false,
});
await manager.select(provider); // the bwrap probe, while descriptors are free
const spec = { provider, workdir, env: { PATH: '/usr/bin:/bin', ENCAGE_REL_MARKER: marker } };
const attempt = async (slack) => {
  const held = [];
  try {
    for (;;) held.push(openSync('/dev/null', 'r'));
  } catch (error) {
    if (error.code !== 'EMFILE') throw error;
  }
  for (let i = 0; i < slack; i++) closeSync(held.pop());
  let line;
  try {
    const result = await manager.run(spec, 'sh', ['-c', 'echo "$0"', marker]);
    line = { slack, exitCode: result.exitCode, stdout: result.stdout };
  } catch (error) {
    line = { slack, typed: error instanceof EncageError, code: error.code, message: String(error.message) };
  }
  for (const fd of held) closeSync(fd);
  console.log(JSON.stringify(line));
};
for (const slack of slacks) await attempt(Number(slack));
const after = await manager.run(spec, 'sh', ['-c', 'echo "$0"', marker]);
console.log(JSON.stringify({ recovered: after.stdout === marker + '\\n' }));
await manager.close();
`;

interface FdLine {
  slack?: number;
  exitCode?: number;
  stdout?: string;
  typed?: boolean;
  code?: string;
  message?: string;
  recovered?: boolean;
}

describe('faults: file descriptors run out', () => {
  let scratch: string;
  beforeAll(async () => {
    scratch = await createScriptsDir('faults-fd');
  });
  afterAll(() => rm(scratch, { recursive: true, force: true }));

  it.each(REAL_PROVIDER_NAMES)(
    'fails %s with a typed error, neither crashing nor hanging, and recovers',
    async (provider) => {
      const script = await writeChildScript(scratch, 'fd-child', FD_CHILD);
      const workdir = await mkdtemp(path.join(scratch, 'workdir-'));
      const childTmp = await mkdtemp(path.join(scratch, 'tmp-'));
      const marker = createMarker('fd');
      const cgroupsBefore = encageCgroups();
      const child = await execa(
        'sh',
        [
          '-c',
          `ulimit -n ${FD_LIMIT}; exec node "$@"`,
          'sh',
          script,
          provider,
          workdir,
          marker,
          ...FD_SLACKS.map(String),
        ],
        {
          reject: false,
          timeout: CHILD_TIMEOUT_MS,
          env: { TMPDIR: childTmp },
          extendEnv: true,
        },
      );
      expect(child.timedOut, 'hung').toBe(false);
      expect(child.exitCode, child.stderr).toBe(0);
      const lines = child.stdout
        .split('\n')
        .filter(Boolean)
        .map((line) => JSON.parse(line) as FdLine);
      const attempts = lines.filter((line) => line.slack !== undefined);
      expect(attempts).toHaveLength(FD_SLACKS.length);
      const failures = attempts.filter((line) => line.exitCode === undefined);
      for (const failure of failures) {
        expect(failure.typed, JSON.stringify(failure)).toBe(true);
        expect(['PREPARE_FAILED', 'SPAWN_FAILED'], JSON.stringify(failure)).toContain(failure.code);
        expect(failure.message).toMatch(/EMFILE/);
      }
      for (const success of attempts.filter((line) => line.exitCode !== undefined))
        expect(success).toMatchObject({ exitCode: 0, stdout: `${marker}\n` });
      // Positive controls: the exhaustion did bite, and with descriptors back all works again.
      expect(failures.length).toBeGreaterThan(0);
      expect(failures.some((line) => line.code === 'SPAWN_FAILED')).toBe(true);
      expect(lines.at(-1)).toEqual({ recovered: true });
      expect(await entriesOf(childTmp)).toEqual([]);
      expect(processesWith(marker)).toEqual([]);
      expect(await settledNew(cgroupsBefore, encageCgroups)).toEqual([]);
    },
    CHILD_TIMEOUT_MS * 2,
  );
});
