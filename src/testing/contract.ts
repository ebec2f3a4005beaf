import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isEncageError } from '../errors.js';
import { Manager } from '../manager/manager.js';
import type { Provider } from '../provider.js';
import { DEFAULT_PATH, type SandboxSpecInput } from '../spec.js';

const CONCURRENT_RUNS = 100;
// Long enough for a slow engine (docker over tcp, under load) to start the command first.
const SHORT_TIMEOUT_MS = 4_000;
const LONG_SLEEP_S = 30;
/** Variables a shell or container runtime sets by itself; never copied from the host. */
const RUNTIME_SET_ENV = new Set(['PWD', 'HOSTNAME', 'SHLVL', 'OLDPWD', '_']);

/** Words that would break if any layer passed them through a shell unquoted. */
export const HOSTILE_ARGS: readonly string[] = [
  'plain',
  'two words',
  "it's",
  '"double"',
  '$(echo pwned)',
  '`echo pwned`',
  '$HOME',
  '${PATH}',
  '*',
  '?',
  '[a]',
  ';',
  '|',
  '&&',
  '>',
  '<',
  '\n',
  'line1\nline2',
  'tab\there',
  '\\',
  '\\n',
  '!',
  '#',
  '~',
  '{a,b}',
  '',
  ' lead',
  'trail ',
  "'",
  "'\\''",
  '--',
  '-n',
  'ünïcödé ✓',
  '%s%n',
  '\r',
];

export interface ContractOptions {
  /** Returns the provider under test (a fresh one per suite). */
  readonly createProvider: () => Provider;
  /** Extra spec fields the provider needs (e.g. docker `options.image`). */
  readonly spec?: Partial<SandboxSpecInput>;
  /** When false the suite is skipped; CI should pass `true` or fail instead. */
  readonly enabled?: boolean;
  /** A label for the describe block (default: the provider name). */
  readonly label?: string;
  /** Runs once on the suite's fresh workdir, e.g. to make it writable for a container's user. */
  readonly setupWorkdir?: (workdir: string) => Promise<void>;
}

/**
 * The contract every provider must honour: lifecycle, exit codes, signals, stdio, env
 * exactness, byte-exact arguments, teardown idempotence and concurrency. Call it from a vitest
 * test file: `testProviderContract({ createProvider: () => createMyProvider() })`.
 */
export function testProviderContract(options: ContractOptions): void {
  const label = options.label ?? safeName(options.createProvider);
  describe.runIf(options.enabled ?? true)(`provider contract: ${label}`, () => {
    let manager: Manager;
    let provider: Provider;
    let workdir: string;
    const spec = (extra: Partial<SandboxSpecInput> = {}): SandboxSpecInput => ({
      provider: provider.name,
      workdir,
      ...options.spec,
      ...extra,
      options: { ...options.spec?.options, ...extra.options },
    });

    beforeAll(async () => {
      provider = options.createProvider();
      manager = new Manager({ providers: [provider], cleanupOnSignal: false });
      workdir = await mkdtemp(path.join(tmpdir(), 'encage-contract-'));
      await options.setupWorkdir?.(workdir);
    });
    afterAll(async () => {
      await manager.close();
      await rm(workdir, { recursive: true, force: true });
    });

    it('reports itself available', async () => {
      const availability = await provider.check();
      expect(availability.reason).toBeTypeOf('string');
      expect(availability.available).toBe(true);
    });

    it('returns the exit status of the command', async () => {
      const ok = await manager.run(spec(), 'sh', ['-c', 'exit 0']);
      const failed = await manager.run(spec(), 'sh', ['-c', 'exit 3']);
      expect([ok.exitCode, failed.exitCode]).toEqual([0, 3]);
    });

    it('reports death by signal as 128+N', async () => {
      const result = await manager.run(spec(), 'sh', ['-c', 'kill -TERM $$; sleep 5']);
      expect(result.exitCode).toBe(128 + 15);
    });

    it('keeps stdout and stderr apart', async () => {
      const result = await manager.run(spec(), 'sh', ['-c', 'echo out; echo err >&2']);
      expect(result.stdout).toBe('out\n');
      expect(result.stderr).toBe('err\n');
    });

    it('feeds stdin to the command', async () => {
      const result = await manager.run(spec(), 'cat', [], { input: 'hello\nstdin\n' });
      expect(result.stdout).toBe('hello\nstdin\n');
    });

    it('runs in the workdir and can write there', async () => {
      const result = await manager.run(spec(), 'sh', ['-c', 'pwd; echo written > out.txt']);
      expect(result.stdout).toBe(`${workdir}\n`);
      expect(await readFile(path.join(workdir, 'out.txt'), 'utf8')).toBe('written\n');
    });

    it('gives the command exactly the spec environment and nothing from the host', async () => {
      const canary = `ENCAGE_CANARY_${process.pid}`;
      process.env[canary] = 'host-secret';
      try {
        const env = { PATH: DEFAULT_PATH, FOO: 'bar baz', QUOTE: "it's $(x)", EMPTY: '' };
        const result = await manager.run(spec({ env }), 'env', []);
        expect(result.exitCode).toBe(0);
        const seen = parseEnv(result.stdout);
        for (const [name, value] of Object.entries(env)) expect(seen.get(name), name).toBe(value);
        const extra = [...seen.keys()].filter(
          (name) => !(name in env) && !RUNTIME_SET_ENV.has(name),
        );
        expect(extra).toEqual([]);
        expect(result.stdout).not.toContain('host-secret');
      } finally {
        delete process.env[canary];
      }
    });

    it('passes every shell metacharacter through byte-exact', async () => {
      const result = await manager.run(spec(), 'sh', [
        '-c',
        'printf "%s\\0" "$@"',
        'sh',
        ...HOSTILE_ARGS,
      ]);
      expect(result.exitCode).toBe(0);
      expect(result.stdout.split('\0').slice(0, -1)).toEqual(HOSTILE_ARGS);
    });

    it('kills the command at the timeout and reports 124', async () => {
      const result = await manager.run(spec({ limits: { timeoutMs: SHORT_TIMEOUT_MS } }), 'sh', [
        '-c',
        `echo started; sleep ${LONG_SLEEP_S}`,
      ]);
      expect(result.stdout).toBe('started\n');
      expect(result).toMatchObject({ timedOut: true, exitCode: 124 });
    });

    it('stops the command when the signal aborts', async () => {
      const controller = new AbortController();
      const running = await manager.spawn(
        spec(),
        'sh',
        ['-c', `echo ready; sleep ${LONG_SLEEP_S}`],
        { signal: controller.signal, buffer: false },
      );
      running.subprocess.stdout?.once('data', () => controller.abort());
      const result = await running.result;
      expect(result.aborted).toBe(true);
      expect(manager.instances()).not.toContain(running.instance);
    });

    it('writes scripts under the instance root and the returned command runs them', async () => {
      const instance = await manager.prepare(spec(), [
        { innerPath: 'bin/hello.sh', mode: 0o755, contents: '#!/bin/sh\necho "hello $1"\n' },
      ]);
      try {
        const command = instance.exec('sh', [`${instance.root}/bin/hello.sh`, 'world'], {
          PATH: DEFAULT_PATH,
        });
        const result = await execa(command.file, [...command.args], {
          env: command.env,
          extendEnv: false,
          cwd: command.cwd,
          reject: false,
        });
        expect(result.stdout).toBe('hello world');
        expect(result.exitCode).toBe(0);
      } finally {
        await instance.teardown();
      }
    });

    it('tears down idempotently and refuses exec afterwards', async () => {
      const instance = await manager.prepare(spec());
      expect(manager.instances()).toContain(instance);
      await Promise.all([instance.teardown(), instance.teardown()]);
      await instance.teardown();
      expect(manager.instances()).not.toContain(instance);
      let error: unknown;
      try {
        instance.exec('true', [], {});
      } catch (caught) {
        error = caught;
      }
      expect(isEncageError(error, 'INSTANCE_CLOSED')).toBe(true);
    });

    it(`runs ${CONCURRENT_RUNS} one-shot runs concurrently, each with its own output`, async () => {
      const results = await Promise.all(
        Array.from({ length: CONCURRENT_RUNS }, (_, index) =>
          manager.run(spec(), 'sh', ['-c', 'echo "run $0"', String(index)]),
        ),
      );
      expect(results.map((result) => result.stdout)).toEqual(
        results.map((_, index) => `run ${index}\n`),
      );
      expect(new Set(results.map((result) => result.instanceId)).size).toBe(CONCURRENT_RUNS);
      expect(manager.instances()).toEqual([]);
    }, 120_000);

    it('tears down after a failed command too, leaving no instance', async () => {
      await manager.run(spec(), 'sh', ['-c', 'exit 1']);
      await writeFile(path.join(workdir, 'marker'), 'x');
      expect(manager.instances()).toEqual([]);
    });
  });
}

function parseEnv(output: string): Map<string, string> {
  const seen = new Map<string, string>();
  for (const line of output.split('\n')) {
    const eq = line.indexOf('=');
    if (eq > 0) seen.set(line.slice(0, eq), line.slice(eq + 1));
  }
  return seen;
}

function safeName(create: () => Provider): string {
  try {
    return create().name;
  } catch {
    return 'provider';
  }
}
