import { assertSupported } from '../../capabilities.js';
import { abortError, EncageError } from '../../errors.js';
import type { Instance, PrepareOptions, Provider } from '../../provider.js';
import type { Script } from '../../script.js';
import type { Spec } from '../../spec.js';
import { createImageBuilder } from './build.js';
import { allowsHostSockets, isGvisor, probeEngine, type Probe } from './check.js';
import { toEncageError } from './container.js';
import { createEngine, DEFAULT_DOCKER_HOST, parseDockerHost, type Engine } from './engine.js';
import { createImageResolver, type ImageInfo } from './image.js';
import { DOCKER_CAPABILITIES, DOCKER_PROVIDER_NAME } from './capabilities.js';
import { assertEngineSupports, parseDockerOptions } from './options.js';
import { createPool, type DockerPool, type DockerPoolOptions } from './pool.js';
import { prepareContainer, type DockerBackend, type PrepareContext } from './prepare.js';

export {
  DOCKER_PROVIDER_NAME,
  DockerSpecOptionsSchema,
  type DockerSpecOptions,
} from './options.js';
export { collectGarbage, type GcReport } from './gc.js';
export { createEngine, parseDockerHost, type Engine, type EngineAddress } from './engine.js';
export {
  DOCKER_POOL_NAME,
  type DockerPool,
  type DockerPoolOptions,
  type DockerPoolState,
  type DockerPoolStats,
} from './pool.js';

/** An engine that answered stays trusted this long; a failed probe is retried after RETRY. */
const CHECK_TTL_MS = 60_000;
const CHECK_RETRY_MS = 1_000;

export interface DockerProviderOptions {
  /** Engine address, `unix:///path` or `tcp://host:port` (default: DOCKER_HOST, else the local socket). */
  readonly host?: string;
  /** The docker CLI that runs `docker exec` (default: `docker` on PATH). */
  readonly dockerPath?: string;
  /** The image for specs that name none in `options.image`. */
  readonly image?: string;
}

/**
 * One container per instance through the Docker Engine API (optionally gVisor via
 * `options.runtime: "runsc"`); commands run in it with `docker exec`. Images are never pulled
 * and must provide `/bin/sh` and `sleep`. The container has a read-only root, no capabilities,
 * no-new-privileges, docker's seccomp profile, a private /tmp and HOME, the workdir and grants
 * bound at their host paths, and runs as the invoking uid:gid (so the workdir stays writable
 * and files keep their owner) unless `options.user` says otherwise. `deny` paths and engine
 * sockets are masked where a grant would show them. Binds name host paths, so a tcp:// engine
 * must share this host's filesystem.
 */
export function createDockerProvider(options: DockerProviderOptions = {}): Provider {
  const backend = createDockerBackend(options);
  return {
    name: DOCKER_PROVIDER_NAME,
    capabilities: DOCKER_CAPABILITIES,
    check: () => backend.check(),
    async prepare(
      spec: Spec,
      scripts: readonly Script[],
      prepareOptions: PrepareOptions = {},
    ): Promise<Instance> {
      const { signal } = prepareOptions;
      assertSupported(DOCKER_PROVIDER_NAME, DOCKER_CAPABILITIES, spec);
      const resolved = parseDockerOptions(spec, options.image);
      const context = await backend.resolveContext(spec, resolved, signal);
      return prepareContainer(spec, scripts, context, signal);
    },
  };
}

/**
 * A warm pool of docker containers for one sandbox shape: `start()` it, register it with the
 * Manager as a provider (name `docker-pool` unless given) and name it in `spec.provider` (under
 * `auto` it ranks with docker). A spec that differs from the shape in anything fixed at container
 * creation is refused with UNSUPPORTED_SPEC naming the field; `env`, `limits.timeoutMs` and
 * `limits.outputBytes` may differ (they apply per command). Each instance takes its own
 * container, never reused: teardown kills everything in it, the pool removes it in the
 * background and refills to `size` (an empty pool creates on demand). `stop()` (or `await
 * using`) removes every container the pool made; after a crash `encage gc` does.
 */
export function createDockerPool(options: DockerPoolOptions): DockerPool {
  return createPool(options, createDockerBackend(options));
}

/** The engine side shared by the provider and the pool: a cached probe, images, the context. */
function createDockerBackend(options: DockerProviderOptions): DockerBackend {
  const host = options.host ?? process.env.DOCKER_HOST ?? DEFAULT_DOCKER_HOST;
  const parsed = parseDockerHost(host);
  const engine: Engine | undefined = parsed.address && createEngine(parsed.address);
  const unusable = 'why' in parsed ? `DOCKER_HOST: ${parsed.why}` : '';
  const resolveImage = engine && createImageResolver(engine);
  const buildImage = engine && resolveImage && createImageBuilder(engine, resolveImage);
  let cached: { at: number; ttl: number; probe: Promise<Probe> } | undefined;
  const probe = (): Promise<Probe> => {
    if (!engine) return Promise.resolve({ available: false, reason: unusable });
    if (cached && performance.now() - cached.at < cached.ttl) return cached.probe;
    const entry = {
      at: performance.now(),
      ttl: CHECK_TTL_MS,
      probe: probeEngine(engine, options.dockerPath ?? 'docker'),
    };
    void entry.probe.then((result) => {
      if (!result.available) entry.ttl = CHECK_RETRY_MS;
    });
    cached = entry;
    return entry.probe;
  };
  return {
    capabilities: DOCKER_CAPABILITIES,
    async check() {
      const { available, reason, details } = await probe();
      return details === undefined ? { available, reason } : { available, reason, details };
    },
    async resolveContext(spec, resolved, signal): Promise<PrepareContext> {
      const { info, reason } = await probe();
      if (!engine || !resolveImage || !buildImage || !info) {
        throw new EncageError('PROVIDER_UNAVAILABLE', `[docker] not available: ${reason}`, {
          path: 'spec.provider',
        });
      }
      assertEngineSupports(spec, resolved, info);
      const source = resolved.source;
      let image: ImageInfo;
      try {
        image = await raceAbort(
          source.kind === 'image'
            ? resolveImage(source.image)
            : buildImage(source.file).then(resolveImage),
          signal,
        );
      } catch (error) {
        throw toEncageError(engine, error, 'cannot inspect the image');
      }
      const runtime = info.runtimes.get(resolved.runtime ?? info.defaultRuntime);
      return {
        engine,
        dockerPath: info.dockerPath,
        image,
        options: resolved,
        maskSockets: !(runtime && isGvisor(runtime) && !allowsHostSockets(runtime)),
      };
    },
  };
}

/** Settles with `work`, or rejects with ABORTED as soon as `signal` aborts (work goes on, shared). */
function raceAbort<T>(work: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return work;
  if (signal.aborted) return Promise.reject(abortError(signal));
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(abortError(signal));
    signal.addEventListener('abort', onAbort, { once: true });
    void work.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}
