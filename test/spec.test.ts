import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isEncageError } from '../src/errors.js';
import { DEFAULT_PATH, parseSpec, SANDBOX_HOME } from '../src/spec.js';

function specError(input: unknown): { code: string; path: string | undefined; message: string } {
  try {
    parseSpec(input);
  } catch (error) {
    if (isEncageError(error)) return { code: error.code, path: error.path, message: error.message };
    throw error;
  }
  throw new Error('parseSpec accepted the input');
}

describe('parseSpec', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'encage-spec-'));
    await writeFile(path.join(dir, 'file'), 'x');
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('fills safe defaults: auto, no network, an env with nothing from the host', () => {
    process.env.ENCAGE_SPEC_CANARY = 'x';
    const spec = parseSpec({ workdir: dir });
    delete process.env.ENCAGE_SPEC_CANARY;
    expect(spec).toMatchObject({
      provider: 'auto',
      network: 'none',
      readOnly: [],
      readWrite: [],
      deny: [],
      limits: {},
      options: {},
      labels: {},
    });
    expect(Object.keys(spec.env).sort()).toEqual(['HOME', 'LANG', 'PATH', 'TERM']);
    expect(spec.env.PATH).toBe(DEFAULT_PATH);
    expect(spec.env.HOME).toBe(SANDBOX_HOME);
  });

  it('takes relative deny paths from the workdir', () => {
    expect(parseSpec({ workdir: dir, deny: ['.env', '/abs/x'] }).deny).toEqual([
      path.join(dir, '.env'),
      '/abs/x',
    ]);
  });

  it.each([
    [{ workdir: 'relative/dir' }, 'spec.workdir', 'relative'],
    [{ workdir: '/definitely/missing/encage' }, 'spec.workdir', 'does not exist'],
    [{ readOnly: ['/definitely/missing'] }, 'spec.readOnly.0', 'does not exist'],
    [{ network: 'internet' }, 'spec.network', ''],
    [{ env: { '1BAD': 'x' } }, 'spec.env.1BAD', 'not a valid variable name'],
    [{ env: { OK: 'a\0b' } }, 'spec.env.OK', 'NUL'],
    [{ limits: { timeoutMs: -1 } }, 'spec.limits.timeoutMs', ''],
    [{ limits: { memoryBytes: 10 } }, 'spec.limits.memoryBytes', 'at least'],
    [{ limits: { wallclock: 1 } }, 'spec.limits', 'unknown field(s) "wallclock"'],
    [{ colour: 'blue' }, 'spec', 'unknown field(s) "colour"'],
  ])('refuses %j naming %s', (input, field, words) => {
    const error = specError(input);
    expect(error.code).toBe('INVALID_SPEC');
    expect(error.path).toBe(field);
    expect(error.message).toContain(field);
    expect(error.message).toContain(words);
  });

  it('refuses a workdir that is a file', () => {
    expect(specError({ workdir: path.join(dir, 'file') }).message).toContain('not a directory');
  });
});
