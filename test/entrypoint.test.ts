import { execa } from 'execa';
import fc from 'fast-check';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { entrypointScript, ENTRYPOINT_PATH } from '../src/entrypoint.js';
import { writeScripts } from '../src/script.js';
import { thrown } from './helpers/errors.js';

const PROPERTY_RUNS = 60;
const noNul = fc.string({ unit: 'binary', maxLength: 40 }).filter((s) => !s.includes('\0'));
const envName = fc.stringMatching(/^[A-Za-z_][A-Za-z0-9_]{0,12}$/);

describe('entrypointScript', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'encage-entry-'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('writes sorted exports and a fully quoted exec line', () => {
    const script = entrypointScript('my cmd', ["it's", '$(x)'], { ZED: 'z', ALPHA: "a'b" });
    expect(script.innerPath).toBe(ENTRYPOINT_PATH);
    expect(script.mode).toBe(0o755);
    expect(script.contents).toBe(
      "#!/bin/sh\nexport ALPHA='a'\\''b'\nexport ZED='z'\nexec 'my cmd' 'it'\\''s' '$(x)'\n",
    );
  });

  it('refuses bad env names and NUL bytes, naming the field', () => {
    expect(thrown(() => entrypointScript('true', [], { '1X': 'v' }))).toMatchObject({
      code: 'INVALID_ARGUMENT',
      path: 'env.1X',
    });
    expect(thrown(() => entrypointScript('echo', ['a\0b'], {}))).toMatchObject({
      code: 'INVALID_ARGUMENT',
      path: 'command.1',
    });
    expect(thrown(() => entrypointScript('', [], {})).code).toBe('INVALID_ARGUMENT');
  });

  it('delivers random arguments and env values byte-exact through /bin/sh', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(noNul, { maxLength: 6 }),
        fc.dictionary(envName, noNul, { maxKeys: 4 }),
        async (args, env) => {
          const script = entrypointScript('/usr/bin/env', ['-0'], {
            ...env,
            ENCAGE_ARGS: JSON.stringify(args),
          });
          const root = await mkdtemp(path.join(dir, 'p-'));
          await writeScripts(root, [script]);
          const { stdout } = await execa('/bin/sh', [path.join(root, ENTRYPOINT_PATH)], {
            env: {},
            extendEnv: false,
            encoding: 'buffer',
          });
          const seen = new Map(
            Buffer.from(stdout)
              .toString('utf8')
              .split('\0')
              .filter(Boolean)
              .map(
                (line) =>
                  [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)] as const,
              ),
          );
          for (const [name, value] of Object.entries(env)) expect(seen.get(name)).toBe(value);
          expect(JSON.parse(seen.get('ENCAGE_ARGS') ?? 'null')).toEqual(args);
        },
      ),
      { numRuns: PROPERTY_RUNS },
    );
  });

  it('delivers random arguments to the command byte-exact', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(noNul, { maxLength: 8 }), async (args) => {
        const script = entrypointScript('/usr/bin/printf', ['%s\\0', ...args], {});
        const root = await mkdtemp(path.join(dir, 'a-'));
        await writeScripts(root, [script]);
        const { stdout } = await execa('/bin/sh', [path.join(root, ENTRYPOINT_PATH)], {
          env: {},
          extendEnv: false,
          stripFinalNewline: false,
        });
        const expected = args.length === 0 ? '\0' : args.map((arg) => `${arg}\0`).join('');
        expect(stdout).toBe(expected);
      }),
      { numRuns: PROPERTY_RUNS },
    );
  });
});
