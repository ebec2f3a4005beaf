import { describe, expect, it } from 'vitest';
import { buildBwrapArgs } from '../../../src/providers/bwrap/args.js';
import { scriptsRootFor } from '../../../src/providers/sandbox-paths.js';
import type { Spec } from '../../../src/spec.js';
import { resolvedSpec } from '../../helpers/spec.js';

const WORKDIR = '/work/project';
const LAYOUT = [
  { path: '/usr', kind: 'dir' as const },
  { path: '/bin', kind: 'symlink' as const, target: 'usr/bin' },
];

const spec = (extra: Partial<Spec> = {}): Spec => resolvedSpec('bwrap', WORKDIR, extra);

function build(s: Spec): string[] {
  return buildBwrapArgs(s, {
    layout: LAYOUT,
    scriptsDir: '/tmp/encage-bwrap-x/scripts',
    scriptsRoot: scriptsRootFor(s),
    home: s.env.HOME,
  });
}

/** Index of the mount whose target (the argument after the flag's source) is `target`. */
function mountAt(args: string[], flag: string, target: string): number {
  for (let i = 0; i < args.length; i++) {
    if (args[i] !== flag) continue;
    if (flag === '--tmpfs' || flag === '--proc' || flag === '--dev' || flag === '--dir') {
      if (args[i + 1] === target) return i;
    } else if (args[i + 2] === target) return i;
  }
  return -1;
}

describe('scriptsRootFor', () => {
  it('uses /run/encage unless a grant holds it', () => {
    expect(scriptsRootFor(spec())).toBe('/run/encage');
    expect(scriptsRootFor(spec({ readOnly: ['/run'] }))).toBe('/.encage');
    expect(scriptsRootFor(spec({ workdir: '/run/encage' }))).toBe('/.encage');
    expect(scriptsRootFor(spec({ readWrite: ['/run/encage/x'] }))).toBe('/run/encage');
  });

  it('falls back to the private /tmp when "/" is granted', () => {
    expect(scriptsRootFor(spec({ readOnly: ['/'] }))).toBe('/tmp/.encage');
  });

  it('refuses grants that cover every candidate, naming the fields and the fix', () => {
    expect(() => scriptsRootFor(spec({ readOnly: ['/'], readWrite: ['/tmp'] }))).toThrow(
      expect.objectContaining({
        code: 'INVALID_SPEC',
        message: expect.stringMatching(/readOnly\/readWrite.*narrower/) as unknown,
      }),
    );
  });
});

describe('buildBwrapArgs mount order', () => {
  it('binds the scripts read-only at their root, after the private dirs', () => {
    const args = build(spec());
    const scripts = mountAt(args, '--ro-bind', '/run/encage');
    expect(scripts).toBeGreaterThan(mountAt(args, '--tmpfs', '/tmp'));
    expect(args[scripts + 1]).toBe('/tmp/encage-bwrap-x/scripts');
  });

  it('mounts a granted "/" first, so /proc, /dev, /tmp and HOME stay fresh and private', () => {
    const args = build(spec({ readOnly: ['/'] }));
    const root = mountAt(args, '--ro-bind', '/');
    expect(root).toBeGreaterThan(-1);
    for (const [flag, target] of [
      ['--proc', '/proc'],
      ['--dev', '/dev'],
      ['--tmpfs', '/tmp'],
      ['--tmpfs', '/home'],
      ['--dir', '/home/sandbox'],
      ['--ro-bind', '/tmp/.encage'],
      ['--bind', WORKDIR],
    ] as const)
      expect(mountAt(args, flag, target), target).toBeGreaterThan(root);
    // The host root already shows the system dirs: no layout mounts under it.
    expect(args).not.toContain('--symlink');
  });

  it('lets an explicit grant of /tmp win over the private /tmp', () => {
    const args = build(spec({ readWrite: ['/tmp'] }));
    expect(mountAt(args, '--bind', '/tmp')).toBeGreaterThan(mountAt(args, '--tmpfs', '/tmp'));
  });

  it('keeps a deeper grant visible inside the private /tmp', () => {
    const args = build(spec({ readOnly: ['/tmp/data'] }));
    expect(mountAt(args, '--ro-bind', '/tmp/data')).toBeGreaterThan(
      mountAt(args, '--tmpfs', '/tmp'),
    );
  });

  it('masks deny paths after every grant', () => {
    const args = build(spec({ readOnly: ['/etc'], deny: ['/etc/hostname'] }));
    expect(mountAt(args, '--ro-bind', '/etc/hostname')).toBeGreaterThan(
      mountAt(args, '--ro-bind', '/etc'),
    );
    expect(args[mountAt(args, '--ro-bind', '/etc/hostname') + 1]).toBe('/dev/null');
  });
});
