import {
  mkdirSync,
  readdirSync,
  readFileSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildSpecInput, type RunFlags } from '../../src/cli/spec-options.js';
import {
  EncageError,
  ENV_NAME_PATTERN,
  Manager,
  createScriptdirProvider,
  parseInnerPath,
  parseSpec,
  validateCommand,
  validateScripts,
  type Script,
} from '../../src/index.js';
import { BWRAP_ENABLED } from '../helpers/backends.js';
import { CLI_PATH } from './helpers/child.js';
import { createRecordingProvider } from './helpers/fakes.js';
import { entriesOf } from './helpers/leaks.js';
import { createMarker, usePrivateTmp } from './helpers/scope.js';
import {
  commandInput,
  configFileInput,
  runFlagsInput,
  scriptsInput,
  SPEC_KEYS,
  specInput,
  type Fixture,
} from './fuzz/arbitraries.js';

const SPEC_RUNS = 400;
const SCRIPTDIR_RUNS = 80;
const FLAG_RUNS = 400;
const CLI_RUNS = 30;
/** A limit this long never ends a run of `true`. */
const LONG_TIMEOUT_MS = 10_000;

/** What the library's own validators say of an input; `undefined` when it is valid. */
function validationError(check: () => void): EncageError | undefined {
  try {
    check();
    return undefined;
  } catch (error) {
    if (error instanceof EncageError) return error;
    throw new Error(`a validator threw a non-EncageError: ${String(error)}`, { cause: error });
  }
}

/**
 * An oracle independent of the validators: inputs that are invalid on their face. Whatever
 * the validators think, these must never reach a provider.
 */
function obviouslyInvalid(spec: unknown): string | undefined {
  if (spec === undefined || spec === null) return undefined;
  if (typeof spec !== 'object' || Array.isArray(spec)) return 'not an object';
  const record = spec as Record<string, unknown>;
  const unknown = Object.keys(record).find(
    (key) => !(SPEC_KEYS as readonly string[]).includes(key),
  );
  if (unknown !== undefined) return `unknown key ${JSON.stringify(unknown)}`;
  if (typeof record.workdir === 'string' && !path.isAbsolute(record.workdir))
    return 'relative workdir';
  if (record.env && typeof record.env === 'object' && !Array.isArray(record.env)) {
    const bad = Object.keys(record.env).find((name) => !ENV_NAME_PATTERN.test(name));
    if (bad !== undefined) return `env name ${JSON.stringify(bad)}`;
  }
  const limits = record.limits as Record<string, unknown> | undefined;
  const timeout = limits && typeof limits === 'object' ? limits.timeoutMs : undefined;
  if (timeout !== undefined && !(Number.isSafeInteger(timeout) && (timeout as number) > 0))
    return 'timeoutMs not a positive integer';
  return undefined;
}

function makeFixture(base: string): Fixture {
  const dirs = ['a', 'b', 'a/nested'].map((name) => path.join(base, name));
  for (const dir of dirs) mkdirSync(dir, { recursive: true });
  const file = path.join(base, 'file.txt');
  writeFileSync(file, 'x');
  const link = path.join(base, 'link');
  symlinkSync(dirs[0] ?? base, link);
  return { base, dirs, file, link };
}

/** Every file and dir under `dir`, as relative paths. */
function listTree(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' }).sort();
}

describe('fuzzing the public boundary', () => {
  let fixture: Fixture;
  let tmp: ReturnType<typeof usePrivateTmp>;
  let scratch: string;
  beforeAll(async () => {
    fixture = makeFixture(await mkdtemp(path.join(tmpdir(), 'rel-fuzz-fixture-')));
    scratch = await mkdtemp(path.join(tmpdir(), 'rel-fuzz-scratch-'));
    tmp = usePrivateTmp('fuzz');
  });
  afterAll(async () => {
    tmp.restore();
    await rm(fixture.base, { recursive: true, force: true });
    await rm(scratch, { recursive: true, force: true });
  });

  it('never runs anything for an invalid spec, script or command, and fails only typed', async () => {
    const { provider, prepared } = createRecordingProvider();
    const manager = new Manager({ providers: [provider], cleanupOnSignal: false });
    const reachedFor: string[] = [];
    await fc.assert(
      fc.asyncProperty(
        specInput(fixture, provider.name),
        scriptsInput,
        commandInput,
        async (spec, scripts, [cmd, args]) => {
          const before = prepared.length;
          const invalid =
            validationError(() => parseSpec(spec)) ??
            validationError(() => validateCommand(cmd as string, args as string[])) ??
            validationError(() => validateScripts(scripts as Script[]));
          const oracle = obviouslyInvalid(spec);
          let failure: unknown;
          let result;
          try {
            result = await manager.run(spec as never, cmd as string, args as string[], {
              scripts: scripts as Script[],
            });
          } catch (error) {
            failure = error;
          }
          const reached = prepared.length > before;
          if (failure !== undefined) expect(failure).toBeInstanceOf(EncageError);
          if (oracle !== undefined) expect(invalid, oracle).toBeDefined();
          if (invalid) {
            expect(reached, `reached prepare despite ${invalid.code}`).toBe(false);
            expect((failure as EncageError | undefined)?.code).toBe(invalid.code);
            return;
          }
          const parsed = parseSpec(spec);
          // `auto` picks the strongest available isolating provider: the recording one here.
          if (parsed.provider !== provider.name && parsed.provider !== 'auto') {
            expect(reached).toBe(false);
            expect((failure as EncageError).code).toMatch(/UNKNOWN_PROVIDER|PROVIDER_UNAVAILABLE/);
            return;
          }
          // Valid input for the recording provider: it ran, exactly once, and was torn down.
          expect(failure).toBeUndefined();
          expect(prepared.length).toBe(before + 1);
          expect(prepared.at(-1)?.teardowns).toBe(1);
          expect(result?.exitCode).toBe(0);
          if ((parsed.limits.timeoutMs ?? Infinity) >= LONG_TIMEOUT_MS)
            expect(result?.timedOut).toBe(false);
          reachedFor.push(parsed.provider);
        },
      ),
      { numRuns: SPEC_RUNS },
    );
    // Positive control: the generator produced runnable inputs too, not only rejects.
    expect(reachedFor.length).toBeGreaterThan(SPEC_RUNS / 10);
    expect(manager.instances()).toEqual([]);
    await manager.close();
  }, 120_000);

  it('writes valid scripts only inside the instance root, and leaves nothing after teardown', async () => {
    const manager = new Manager({
      providers: [createScriptdirProvider()],
      cleanupOnSignal: false,
    });
    const fixtureBefore = listTree(fixture.base);
    let written = 0;
    await fc.assert(
      fc.asyncProperty(scriptsInput, async (scripts) => {
        const invalid = validationError(() => validateScripts(scripts as Script[]));
        let instance;
        try {
          instance = await manager.prepare(
            { provider: 'scriptdir', workdir: fixture.dirs[0] },
            scripts as Script[],
          );
        } catch (error) {
          expect(error).toBeInstanceOf(EncageError);
          expect(invalid?.code ?? (error as EncageError).code).toBe((error as EncageError).code);
          expect(await entriesOf(tmp.dir)).toEqual([]);
          return;
        }
        expect(invalid).toBeUndefined();
        const entries = await entriesOf(tmp.dir);
        expect(entries).toEqual([instance.root]);
        for (const script of scripts as Script[]) {
          const file = path.join(instance.root, ...parseInnerPath(script.innerPath));
          expect(statSync(file).mode & 0o777).toBe(script.mode);
          expect(readFileSync(file)).toEqual(Buffer.from(script.contents));
          written += 1;
        }
        await instance.teardown();
        expect(await entriesOf(tmp.dir)).toEqual([]);
      }),
      { numRuns: SCRIPTDIR_RUNS },
    );
    expect(written).toBeGreaterThan(0);
    expect(listTree(fixture.base)).toEqual(fixtureBefore);
    await manager.close();
  }, 120_000);

  it('builds specs from random CLI flags and config files, failing only typed', async () => {
    let built = 0;
    let configs = 0;
    const flags = fc.record({
      flags: runFlagsInput(fixture),
      config: fc.option(configFileInput(fixture), { nil: undefined }),
    });
    let index = 0;
    await fc.assert(
      fc.asyncProperty(flags, async (generated) => {
        const runFlags: RunFlags = { ...generated.flags };
        if (generated.config !== undefined) {
          const file = path.join(scratch, `config-${index++}.json`);
          writeFileSync(file, generated.config);
          runFlags.config = file;
          configs += 1;
        }
        try {
          parseSpec(await buildSpecInput(runFlags, { HOME: '/home/someone', PATH: '/bin' }));
          built += 1;
        } catch (error) {
          if (!(error instanceof EncageError)) throw error;
        }
      }),
      { numRuns: FLAG_RUNS },
    );
    expect(configs).toBeGreaterThan(0);
    expect(built).toBeGreaterThan(0);
  }, 120_000);

  it('runs the real CLI with random flags: the command runs, or encage says why in one line', async () => {
    const providers = ['scriptdir', 'noop', 'nope', ...(BWRAP_ENABLED ? ['bwrap'] : [])];
    const configFile = path.join(scratch, 'cli-config.json');
    writeFileSync(configFile, JSON.stringify({ env: { PATH: '/usr/bin:/bin', X: '1' } }));
    const flagPair = fc.oneof(
      fc.tuple(fc.constant('--ro'), fc.constantFrom(fixture.file, 'relative', '')),
      fc.tuple(fc.constant('--rw'), fc.constantFrom(...fixture.dirs, '/nonexistent')),
      fc.tuple(fc.constant('--deny'), fc.constantFrom('.env', 'a/..', '\u00e9', '')),
      fc.tuple(fc.constant('--network'), fc.constantFrom('none', 'host', 'both')),
      fc.tuple(fc.constant('-e'), fc.constantFrom('A=1', 'PATH', 'NOT_SET_X', '1A', 'B=x y')),
      fc.tuple(fc.constant('--timeout'), fc.constantFrom('30s', '700h', 'soon', '0')),
      fc.tuple(fc.constant('--memory'), fc.constantFrom('256m', 'lots', '1k')),
      fc.tuple(fc.constant('--pids'), fc.constantFrom('64', '-3')),
      fc.tuple(fc.constant('--cpus'), fc.constantFrom('1', 'x')),
      fc.tuple(fc.constant('--image'), fc.constantFrom('busybox')),
      fc.tuple(fc.constant('--config'), fc.constantFrom(configFile, '/nonexistent.json')),
      fc.tuple(fc.constant('-C'), fc.constantFrom(...fixture.dirs, 'nowhere')),
      fc.constantFrom(['--json'], ['--bogus'], ['-p'], ['--timeout']),
    );
    const outcomes: Record<string, number> = {};
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...providers),
        fc.array(flagPair, { maxLength: 4 }),
        async (provider, pairs) => {
          const marker = createMarker('cli');
          const args = ['run', '-p', provider, ...pairs.flat()];
          const result = await execa(
            'node',
            [CLI_PATH, ...args, '--', 'sh', '-c', 'echo "$0"', marker],
            {
              reject: false,
              timeout: 60_000,
              env: { PATH: process.env.PATH ?? '/usr/bin:/bin', TMPDIR: tmp.dir },
              extendEnv: false,
              cwd: fixture.base,
            },
          );
          const status = result.exitCode ?? -1;
          outcomes[status] = (outcomes[status] ?? 0) + 1;
          const what = `${args.join(' ')} → ${status}: ${result.stderr}`;
          expect(result.stderr, what).not.toMatch(/\n\s+at /); // no stack trace
          if (status === 0) {
            expect(result.stdout.split('\n')[0], what).toBe(marker);
          } else {
            expect(status, what).toBe(125);
            expect(result.stdout, what).not.toContain(marker);
            // One line says why (encage's own, or the flag parser's); warnings aside.
            const lines = result.stderr
              .split('\n')
              .filter((line) => line.trim() !== '' && !line.startsWith('encage: warning'));
            expect(lines.length, what).toBe(1);
          }
          expect(await entriesOf(tmp.dir)).toEqual([]);
        },
      ),
      { numRuns: CLI_RUNS },
    );
    expect(outcomes[0]).toBeGreaterThan(0);
    expect(outcomes[125]).toBeGreaterThan(0);
  }, 300_000);
});
