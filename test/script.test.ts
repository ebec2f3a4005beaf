import fc from 'fast-check';
import { lstat, mkdir, mkdtemp, readdir, readFile, rm, stat, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isEncageError } from '../src/errors.js';
import { parseInnerPath, validateScripts, writeScripts } from '../src/script.js';

const PROPERTY_RUNS = 200;

describe('script paths', () => {
  let base: string;
  beforeAll(async () => {
    base = await mkdtemp(path.join(tmpdir(), 'encage-script-'));
  });
  afterAll(() => rm(base, { recursive: true, force: true }));

  it.each([
    ['', 'is empty'],
    ['/etc/passwd', 'is absolute'],
    ['../escape', '".."'],
    ['a/../../b', '".."'],
    ['a//b', 'empty'],
    ['./a', '"."'],
    ['a\0b', 'NUL'],
    ['a\\..\\b', 'backslash'],
  ])('refuses the innerPath %j', (innerPath, why) => {
    let error: unknown;
    try {
      parseInnerPath(innerPath);
    } catch (caught) {
      error = caught;
    }
    expect(isEncageError(error, 'INVALID_SCRIPT')).toBe(true);
    expect((error as Error).message).toContain(why);
  });

  it('never resolves an accepted innerPath outside the root', () => {
    const segment = fc.oneof(
      fc.constantFrom('..', '.', '', 'a', 'b.sh', '...', '..a'),
      fc.string({ maxLength: 6 }),
    );
    fc.assert(
      fc.property(
        fc.array(segment, { minLength: 1, maxLength: 6 }),
        fc.boolean(),
        (segments, absolute) => {
          const innerPath = `${absolute ? '/' : ''}${segments.join('/')}`;
          let accepted = true;
          try {
            parseInnerPath(innerPath);
          } catch {
            accepted = false;
          }
          if (accepted) {
            const resolved = path.resolve('/root-dir', innerPath);
            expect(resolved.startsWith('/root-dir/')).toBe(true);
          }
        },
      ),
      { numRuns: PROPERTY_RUNS },
    );
  });

  it('refuses duplicate innerPaths and bad modes before writing anything', async () => {
    const root = await mkdtemp(path.join(base, 'dup-'));
    const script = { innerPath: 'a.sh', mode: 0o755, contents: 'x' };
    expect(() => validateScripts([script, script])).toThrow(/given twice/);
    await expect(writeScripts(root, [{ ...script, mode: 0o1777 }])).rejects.toThrow(
      /scripts\.0\.mode/,
    );
    expect(await readdir(root)).toEqual([]);
  });

  it('writes files with their mode under 0700 directories', async () => {
    const root = await mkdtemp(path.join(base, 'ok-'));
    await writeScripts(root, [
      { innerPath: 'bin/deep/tool.sh', mode: 0o750, contents: '#!/bin/sh\n' },
      { innerPath: 'data.bin', mode: 0o600, contents: new Uint8Array([0, 1, 2]) },
    ]);
    expect((await stat(path.join(root, 'bin'))).mode & 0o777).toBe(0o700);
    expect((await stat(path.join(root, 'bin/deep'))).mode & 0o777).toBe(0o700);
    expect((await stat(path.join(root, 'bin/deep/tool.sh'))).mode & 0o777).toBe(0o750);
    expect([...(await readFile(path.join(root, 'data.bin')))]).toEqual([0, 1, 2]);
  });

  it('refuses to write through a symlink that leads out of the root', async () => {
    const root = await mkdtemp(path.join(base, 'link-'));
    const outside = await mkdtemp(path.join(base, 'outside-'));
    await symlink(outside, path.join(root, 'bin'));
    await symlink(path.join(outside, 'victim'), path.join(root, 'file.sh'));
    await expect(
      writeScripts(root, [{ innerPath: 'bin/x.sh', mode: 0o700, contents: 'x' }]),
    ).rejects.toMatchObject({ code: 'INVALID_SCRIPT' });
    await expect(
      writeScripts(root, [{ innerPath: 'file.sh', mode: 0o700, contents: 'x' }]),
    ).rejects.toMatchObject({ code: 'INVALID_SCRIPT' });
    expect(await readdir(outside)).toEqual([]);
    expect((await lstat(path.join(root, 'bin'))).isSymbolicLink()).toBe(true);
    await mkdir(path.join(root, 'real'));
    await writeScripts(root, [{ innerPath: 'real/ok.sh', mode: 0o700, contents: 'ok' }]);
    expect(await readFile(path.join(root, 'real/ok.sh'), 'utf8')).toBe('ok');
  });
});
