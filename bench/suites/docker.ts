import { execFileSync } from 'node:child_process';
import type { Provider } from 'encage';
import { DOCKER_IMAGE, type BenchContext, type DockerSetup } from '../lib/context.js';
import { compareTimes, reasonOf, skipped } from '../lib/figure.js';
import { spawnRaw } from '../lib/raw.js';
import { interleave, progress, type Variant } from '../lib/stats.js';
import type { BenchSettings, Figure, Target } from '../lib/types.js';
import { expectSuccess } from './oneshot.js';
import { measureThroughput } from './throughput.js';

const GROUP = 'one-shot latency';
/** A specifier TypeScript does not resolve: the docker provider may not exist yet. */
const DOCKER_MODULE = ['encage', 'providers', 'docker'].join('/');
export const DOCKER_TARGET: Target = { max: 1, text: '≤ 1.0 (≤ docker run --rm)' };

/** Loads the docker provider if it is built and the engine answers; else says why not. */
export async function loadDocker(
  settings: BenchSettings,
): Promise<{ setup?: DockerSetup; why?: string }> {
  void settings;
  let module: {
    createDockerProvider?: (options?: unknown) => Provider;
    createDockerPool?: DockerSetup['createPool'];
  };
  try {
    module = (await import(DOCKER_MODULE)) as typeof module;
  } catch (error) {
    return { why: `the docker provider is not built (${reasonOf(error)})` };
  }
  if (typeof module.createDockerProvider !== 'function')
    return { why: 'encage/providers/docker exports no createDockerProvider' };
  const provider = module.createDockerProvider();
  const availability = await provider.check();
  if (!availability.available) return { why: `docker unavailable: ${availability.reason}` };
  try {
    execFileSync('docker', ['image', 'inspect', DOCKER_IMAGE], { stdio: 'ignore' });
  } catch {
    return { why: `image ${DOCKER_IMAGE} is missing: run scripts/provision.sh` };
  }
  let runtimes = '';
  try {
    runtimes = execFileSync('docker', ['info', '--format', '{{json .Runtimes}}'], {
      encoding: 'utf8',
    });
  } catch {
    // the engine answered the provider; the CLI may still be missing
  }
  return {
    setup: {
      provider,
      image: DOCKER_IMAGE,
      createPool:
        typeof module.createDockerPool === 'function' ? module.createDockerPool : undefined,
      runsc: runtimes.includes('"runsc"'),
    },
  };
}

function dockerRun(image: string, runtime?: string): Promise<void> {
  const args = [
    'run',
    '--rm',
    '--network',
    'none',
    ...(runtime ? ['--runtime', runtime] : []),
    image,
    'true',
  ];
  return spawnRaw('docker', args, { env: process.env });
}

/** Docker one-shot (runc, runsc, warm pool) and throughput against the docker CLI. */
export async function benchDocker(ctx: BenchContext): Promise<Figure[]> {
  const docker = ctx.docker;
  const ids = {
    runc: {
      id: 'oneshot.docker',
      group: GROUP,
      label: 'docker: Manager.run true',
      short: 'docker vs docker run --rm',
      referenceLabel: 'docker run --rm --network none',
      target: DOCKER_TARGET,
    },
    runsc: {
      id: 'oneshot.docker-runsc',
      group: GROUP,
      label: 'docker+runsc: Manager.run true',
      short: 'docker+runsc vs docker run --runtime runsc',
      referenceLabel: 'docker run --rm --runtime runsc',
      target: DOCKER_TARGET,
    },
    poolRun: {
      id: 'oneshot.docker-pool.run',
      group: GROUP,
      label: 'docker warm pool: Manager.run true',
      short: 'docker pool vs docker run --rm',
      referenceLabel: 'docker run --rm --network none',
      target: DOCKER_TARGET,
    },
    pool: {
      id: 'oneshot.docker-pool',
      group: GROUP,
      label: 'docker warm pool: Manager.run true',
      short: 'docker pool vs docker exec',
      referenceLabel: 'docker exec on a running container',
    },
  };
  if (!docker) {
    const why = ctx.unavailable.get('docker') ?? 'docker provider unavailable';
    const figures = Object.values(ids).map((figure) => skipped(figure, why));
    for (const concurrency of ctx.settings.concurrencies)
      figures.push(
        skipped(
          {
            id: `throughput.docker.c${concurrency}`,
            group: 'throughput',
            label: `docker, concurrency ${concurrency}`,
            short: `docker vs docker run --rm, c${concurrency}`,
          },
          why,
        ),
      );
    return figures;
  }
  const { manager, settings } = ctx;
  const run = (options: Record<string, unknown>) => async () =>
    expectSuccess(
      await manager.run(
        { provider: 'docker', options: { image: docker.image, ...options } },
        'true',
      ),
      'docker',
    );
  const variants: Variant[] = [
    { name: 'docker', run: run({}) },
    { name: 'docker-raw', run: () => dockerRun(docker.image) },
  ];
  if (docker.runsc) {
    variants.push(
      { name: 'runsc', run: run({ runtime: 'runsc' }) },
      { name: 'runsc-raw', run: () => dockerRun(docker.image, 'runsc') },
    );
  }
  progress(
    `docker one-shot: ${settings.dockerOneShotRuns} interleaved rounds of ${variants.map((v) => v.name).join(', ')}`,
  );
  const samples = await interleave(variants, settings.dockerOneShotRuns, 1);
  if (docker.createPool) {
    for (const [name, values] of await measurePool(ctx, docker.createPool, docker.image))
      samples.set(name, values);
  }
  const get = (name: string): number[] => samples.get(name) ?? [];
  const figures: Figure[] = [
    compareTimes({ ...ids.runc, encage: get('docker'), reference: get('docker-raw') }),
  ];
  figures.push(
    docker.runsc
      ? compareTimes({ ...ids.runsc, encage: get('runsc'), reference: get('runsc-raw') })
      : skipped(
          ids.runsc,
          'the engine has no runsc runtime registered (scripts/provision.sh registers it)',
        ),
  );
  figures.push(
    docker.createPool
      ? compareTimes({
          ...ids.pool,
          encage: get('pool'),
          reference: get('exec-raw'),
          note: `createDockerPool({ size: ${POOL_SIZE} }), measured once the pool is refilled; a pooled container is used once, then removed in the background`,
        })
      : skipped(ids.pool, 'the docker provider offers no warm pool (createDockerPool)'),
  );
  figures.push(
    docker.createPool
      ? compareTimes({ ...ids.poolRun, encage: get('pool'), reference: get('pool-docker-raw') })
      : skipped(ids.poolRun, 'the docker provider offers no warm pool (createDockerPool)'),
  );
  const runs = settings.dockerThroughputRuns;
  figures.push(
    ...(await measureThroughput(settings.concurrencies, [
      {
        id: 'throughput.docker',
        label: `docker: ${runs} × Manager.run true`,
        short: 'docker vs docker run --rm',
        referenceLabel: 'docker run --rm --network none',
        runs,
        encage: run({}),
        raw: () => dockerRun(docker.image),
        note: `${runs} runs per side, not 1,000: a container takes a few hundred ms`,
      },
    ])),
  );
  return figures;
}

const POOL_SIZE = 2;

/**
 * Manager.run through a started warm pool vs `docker exec` into a running container, each run
 * after the pool has refilled (untimed), so both sides find a container ready.
 */
async function measurePool(
  ctx: BenchContext,
  createPool: NonNullable<DockerSetup['createPool']>,
  image: string,
): Promise<Map<string, number[]>> {
  const pool = createPool({ spec: { options: { image } }, size: POOL_SIZE });
  const settle = async (): Promise<void> => {
    await pool.settled?.();
  };
  await pool.start();
  ctx.manager.register(pool);
  const container = execFileSync(
    'docker',
    ['run', '-d', '--rm', '--network', 'none', image, 'sleep', '3600'],
    { encoding: 'utf8' },
  ).trim();
  try {
    const variants: Variant[] = [
      {
        name: 'pool',
        before: settle,
        run: async () =>
          expectSuccess(
            await ctx.manager.run({ provider: pool.name, options: { image } }, 'true'),
            'docker pool',
          ),
      },
      {
        name: 'exec-raw',
        before: settle,
        run: () => spawnRaw('docker', ['exec', container, 'true'], { env: process.env }),
      },
      { name: 'pool-docker-raw', before: settle, run: () => dockerRun(image) },
    ];
    progress(
      `docker warm pool: ${ctx.settings.dockerOneShotRuns} interleaved rounds of pool, exec-raw, pool-docker-raw`,
    );
    return await interleave(variants, ctx.settings.dockerOneShotRuns, 1);
  } finally {
    ctx.manager.unregister(pool.name);
    execFileSync('docker', ['rm', '-f', container], { stdio: 'ignore' });
    await pool.stop();
  }
}
