import { realpathSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { describe, expect, it } from 'vitest';
import {
  createDockerPool,
  DOCKER_POOL_NAME,
  type DockerPoolOptions,
} from '../../../src/providers/docker/index.js';
import { parseDockerOptions } from '../../../src/providers/docker/options.js';
import { describeShape, findDifference } from '../../../src/providers/docker/pool-shape.js';
import { DEFAULT_PATH, parseSpec, type SandboxSpecInput } from '../../../src/spec.js';
import { thrown } from '../../helpers/errors.js';

const WORKDIR = realpathSync(tmpdir());
const IMAGE = 'encage-test/busybox:latest';

const shapeOf = (extra: Partial<SandboxSpecInput> = {}) => {
  const spec = parseSpec({
    workdir: WORKDIR,
    ...extra,
    options: { image: IMAGE, ...extra.options },
  });
  return describeShape(spec, parseDockerOptions(spec));
};

describe('docker pool shape', () => {
  const pool = shapeOf();

  it('finds no difference in a spec of the same shape', () => {
    expect(findDifference(pool, shapeOf())).toBeUndefined();
  });

  it('ignores what applies per command or is the Manager’s: env, timeout, output limit', () => {
    const candidate = shapeOf({
      env: { PATH: DEFAULT_PATH, TOKEN: 'x' },
      limits: { timeoutMs: 500, outputBytes: 1024 },
    });
    expect(findDifference(pool, candidate)).toBeUndefined();
  });

  it('compares grants and deny paths as sets', () => {
    const a = shapeOf({ readOnly: ['/usr', '/etc'], deny: ['a', 'b'] });
    const b = shapeOf({ readOnly: ['/etc', '/usr', '/etc'], deny: ['b', 'a'] });
    expect(findDifference(a, b)).toBeUndefined();
  });

  it('names the first differing field in spec order, with both values', () => {
    const difference = findDifference(pool, shapeOf({ network: 'host', limits: { pids: 8 } }));
    expect(difference).toEqual({ path: 'spec.network', detail: ' (pool: none; spec: host)' });
    expect(findDifference(pool, shapeOf({ limits: { cpus: 0.5 } }))).toEqual({
      path: 'spec.limits.cpus',
      detail: ' (pool: none; spec: 0.5)',
    });
  });

  it('refuses another HOME, which places the private home, without showing env values', () => {
    const candidate = shapeOf({ env: { PATH: DEFAULT_PATH, HOME: '/home/secret-name' } });
    expect(findDifference(pool, candidate)).toEqual({ path: 'spec.env.HOME', detail: '' });
  });

  it('refuses other labels (they are container labels) without showing them', () => {
    expect(findDifference(pool, shapeOf({ labels: { token: 'hush' } }))).toEqual({
      path: 'spec.labels',
      detail: '',
    });
  });

  it('tells the image from a dockerfile, and the runtime and user', () => {
    expect(findDifference(pool, shapeOf({ options: { image: 'other:1' } }))?.path).toBe(
      'spec.options.image',
    );
    const built = shapeOf({ options: { image: undefined, dockerfile: 'Dockerfile' } });
    expect(findDifference(pool, built)?.path).toBe('spec.options.image');
    expect(findDifference(pool, shapeOf({ options: { runtime: 'runsc' } }))?.path).toBe(
      'spec.options.runtime',
    );
    expect(findDifference(pool, shapeOf({ options: { user: '4242:4242' } }))?.path).toBe(
      'spec.options.user',
    );
  });

  it('still refuses a difference in the create body that no named field explains', () => {
    expect(findDifference(pool, { ...pool, body: `${pool.body} ` })).toEqual({
      path: 'spec',
      detail: '',
    });
  });
});

describe('createDockerPool options', () => {
  const options = (extra: Partial<DockerPoolOptions> = {}): DockerPoolOptions => ({
    spec: { workdir: WORKDIR, options: { image: IMAGE } },
    ...extra,
  });

  it('defaults to the name docker-pool, size 2, idle until started', () => {
    const pool = createDockerPool(options());
    expect(pool.name).toBe(DOCKER_POOL_NAME);
    expect(pool.state).toBe('idle');
    expect(pool.stats()).toEqual({ size: 2, warm: 0, creating: 0, inUse: 0, removing: 0 });
  });

  it('refuses a size out of range, an unknown option and the name auto', () => {
    expect(thrown(() => createDockerPool(options({ size: 0 })))).toMatchObject({
      code: 'INVALID_ARGUMENT',
      path: 'options.size',
    });
    expect(thrown(() => createDockerPool(options({ size: 1.5 }))).path).toBe('options.size');
    const unknown = thrown(() =>
      createDockerPool({ ...options(), sise: 3 } as unknown as DockerPoolOptions),
    );
    expect(unknown.message).toContain('"sise"');
    expect(thrown(() => createDockerPool(options({ name: 'auto' }))).path).toBe('options.name');
  });

  it('validates its spec at once, like any spec', () => {
    const relative = thrown(() => createDockerPool(options({ spec: { workdir: 'relative' } })));
    expect(relative).toMatchObject({ code: 'INVALID_SPEC', path: 'spec.workdir' });
    const noImage = thrown(() => createDockerPool(options({ spec: { workdir: WORKDIR } })));
    expect(noImage).toMatchObject({ code: 'INVALID_SPEC', path: 'spec.options.image' });
    const nested = thrown(() =>
      createDockerPool(options({ spec: { workdir: WORKDIR, options: { image: IMAGE, pool: 2 } } })),
    );
    expect(nested).toMatchObject({ code: 'INVALID_SPEC', path: 'spec.options.pool' });
    expect(nested.message).toContain('createDockerPool');
  });
});
