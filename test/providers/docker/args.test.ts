import { describe, expect, it } from 'vitest';
import {
  buildCreateBody,
  DEFAULT_TMPFS_BYTES,
  PIDS_OVERHEAD,
  type CreateContext,
} from '../../../src/providers/docker/args.js';
import type { Spec } from '../../../src/spec.js';
import { resolvedSpec } from '../../helpers/spec.js';

const WORKDIR = '/work/project';

const spec = (extra: Partial<Spec> = {}): Spec => resolvedSpec('docker', WORKDIR, extra);

const context: CreateContext = {
  image: 'sha256:abc',
  uid: 1000,
  gid: 1001,
  runtime: undefined,
  scriptsDir: '/tmp/encage-docker-x/scripts',
  scriptsRoot: '/run/encage',
  emptyFile: '/tmp/encage-docker-x/empty',
  masks: [],
  labels: { 'encage.instance': 'abc' },
};

interface Body {
  Env: string[];
  User: string;
  WorkingDir: string;
  Entrypoint: string[];
  Cmd: string[];
  HostConfig: {
    Mounts: { Type: string; Source: string; Target: string; ReadOnly: boolean }[];
    Tmpfs: Record<string, string>;
    [key: string]: unknown;
  };
  [key: string]: unknown;
}

const build = (s: Spec, c: Partial<CreateContext> = {}): Body =>
  buildCreateBody(s, { ...context, ...c }) as unknown as Body;
const target = (body: Body, path: string) => body.HostConfig.Mounts.find((m) => m.Target === path);

describe('buildCreateBody', () => {
  it('locks the container down: read-only root, no capabilities, no new privileges, init', () => {
    expect(build(spec()).HostConfig).toMatchObject({
      ReadonlyRootfs: true,
      CapDrop: ['ALL'],
      SecurityOpt: ['no-new-privileges'],
      Privileged: false,
      Init: true,
      AutoRemove: false,
      NetworkMode: 'none',
      IpcMode: 'private',
    });
  });

  it('uses host networking only when the spec asks for it', () => {
    expect(build(spec({ network: 'host' })).HostConfig.NetworkMode).toBe('host');
  });

  it('sets the environment to exactly the spec env', () => {
    const body = build(spec({ env: { A: 'x y', EMPTY: '', Q: "it's" } }));
    expect(body.Env).toEqual(['A=x y', 'EMPTY=', "Q=it's"]);
  });

  it('runs as the given numeric user in the workdir, kept alive by sleep', () => {
    const body = build(spec());
    expect(body).toMatchObject({ User: '1000:1001', WorkingDir: WORKDIR });
    expect([...body.Entrypoint, ...body.Cmd]).toEqual(['sleep', '2147483647']);
  });

  it('binds the workdir read-write at the same path and the scripts read-only', () => {
    const body = build(spec());
    expect(target(body, WORKDIR)).toMatchObject({ Source: WORKDIR, ReadOnly: false });
    expect(target(body, context.scriptsRoot)).toMatchObject({
      Source: context.scriptsDir,
      ReadOnly: true,
    });
  });

  it('binds readOnly grants read-only and readWrite grants writable', () => {
    const body = build(spec({ readOnly: ['/data/ro'], readWrite: ['/data/rw'] }));
    expect(target(body, '/data/ro')).toMatchObject({ Source: '/data/ro', ReadOnly: true });
    expect(target(body, '/data/rw')).toMatchObject({ Source: '/data/rw', ReadOnly: false });
  });

  it('gives a private /tmp and a private HOME owned by the user', () => {
    const { Tmpfs } = build(spec()).HostConfig;
    expect(Tmpfs['/tmp']).toContain('mode=1777');
    expect(Tmpfs['/home/sandbox']).toMatch(/mode=700,uid=1000,gid=1001/);
    expect(Tmpfs['/tmp']).toContain(`size=${DEFAULT_TMPFS_BYTES}`);
  });

  it('does not cover a HOME that a grant already shows', () => {
    const { Tmpfs } = build(spec({ env: { HOME: `${WORKDIR}/home` } })).HostConfig;
    expect(Object.keys(Tmpfs)).toEqual(['/tmp']);
  });

  it('masks denied files with the empty file and denied dirs with a read-only tmpfs', () => {
    const body = build(spec(), {
      masks: [
        { path: `${WORKDIR}/.env`, isDir: false },
        { path: `${WORKDIR}/secrets`, isDir: true },
      ],
    });
    expect(target(body, `${WORKDIR}/.env`)).toMatchObject({
      Source: context.emptyFile,
      ReadOnly: true,
    });
    expect(body.HostConfig.Tmpfs[`${WORKDIR}/secrets`]).toMatch(/^ro,/);
  });

  it('never mounts two things at one target: a mask wins over a grant', () => {
    const body = build(spec({ readOnly: ['/data'], readWrite: ['/data'] }), {
      masks: [{ path: WORKDIR, isDir: true }],
    });
    const targets = [
      ...body.HostConfig.Mounts.map((m) => m.Target),
      ...Object.keys(body.HostConfig.Tmpfs),
    ];
    expect(new Set(targets).size).toBe(targets.length);
    expect(target(body, '/data')).toMatchObject({ ReadOnly: false });
    expect(target(body, WORKDIR)).toBeUndefined();
  });

  it('translates limits, counting docker-init and sleep against pids', () => {
    const body = build(spec({ limits: { memoryBytes: 64 * 1024 ** 2, pids: 10, cpus: 0.5 } }));
    expect(body.HostConfig).toMatchObject({
      Memory: 64 * 1024 ** 2,
      MemorySwap: 64 * 1024 ** 2,
      PidsLimit: 10 + PIDS_OVERHEAD,
      NanoCpus: 500_000_000,
    });
    expect(body.HostConfig.Tmpfs['/tmp']).toContain(`size=${64 * 1024 ** 2}`);
  });

  it('sets the runtime and labels when given', () => {
    const body = build(spec(), { runtime: 'runsc' });
    expect(body.HostConfig.Runtime).toBe('runsc');
    expect(body.Labels).toEqual(context.labels);
    expect(build(spec()).HostConfig).not.toHaveProperty('Runtime');
  });
});
