import { assertSupported } from '../../capabilities.js';
import { abortError, EncageError } from '../../errors.js';
import type {
  Availability,
  Capabilities,
  Instance,
  PrepareOptions,
  Provider,
} from '../../provider.js';
import { writeScripts, type Script } from '../../script.js';
import type { Spec } from '../../spec.js';
import { parseDockerOptions } from './options.js';
import { PoolBackground } from './pool-background.js';
import { PooledInstance } from './pool-instance.js';
import {
  parsePoolOptions,
  type DockerPoolOptions,
  type ParsedPoolOptions,
} from './pool-options.js';
import { describeShape, findDifference, type PoolShape } from './pool-shape.js';
import { isFit, startWarm, type Warm } from './pool-warm.js';
import { resolveContainerMasks, type DockerBackend, type PrepareContext } from './prepare.js';
import { grantAccess } from './scripts-dir.js';

export { DOCKER_POOL_NAME, type DockerPoolOptions } from './pool-options.js';

/** idle → running (start) → stopping → stopped (stop). A stopped pool stays stopped. */
export type DockerPoolState = 'idle' | 'running' | 'stopping' | 'stopped';

export interface DockerPoolStats {
  readonly size: number;
  /** Started containers ready to be taken. */
  readonly warm: number;
  /** Containers being created (refills and on-demand). */
  readonly creating: number;
  /** Instances handed out and not torn down. */
  readonly inUse: number;
  /** Containers to remove or being removed (torn down, stale or dead). */
  readonly removing: number;
}

/** A warm pool for one sandbox shape; also the Provider that hands its containers out. */
export interface DockerPool extends Provider, AsyncDisposable {
  readonly state: DockerPoolState;
  /** Creates `size` containers; resolves once they are warm. Idempotent while running. */
  start(): Promise<void>;
  /**
   * Removes every container the pool made: warm ones, and instances still in use (their
   * commands end). Idempotent; after a failure a later call tries again.
   */
  stop(): Promise<void>;
  stats(): DockerPoolStats;
  /** Starts deferred background work at once; resolves when no container is created or removed. */
  settled(): Promise<void>;
}

export function createPool(options: DockerPoolOptions, backend: DockerBackend): DockerPool {
  return new Pool(parsePoolOptions(options), backend);
}

class Pool implements DockerPool {
  readonly name: string;
  readonly capabilities: Capabilities;
  readonly #options: ParsedPoolOptions;
  readonly #shape: PoolShape;
  readonly #backend: DockerBackend;
  readonly #background: PoolBackground;
  #state: DockerPoolState = 'idle';
  /** The latest context: refills follow an image rebuilt under the same name. */
  #context: PrepareContext | undefined;
  readonly #warm: Warm[] = [];
  readonly #inUse = new Set<PooledInstance>();
  #creating = 0;
  #starting: Promise<void> | undefined;
  #stopping: Promise<void> | undefined;

  constructor(options: ParsedPoolOptions, backend: DockerBackend) {
    this.name = options.name;
    this.capabilities = backend.capabilities;
    this.#options = options;
    this.#shape = describeShape(options.spec, options.resolved);
    this.#backend = backend;
    this.#background = new PoolBackground({
      wantsWarm: (refilling) =>
        this.#state === 'running' &&
        this.#context !== undefined &&
        this.#warm.length + refilling < options.size,
      isEmpty: () => this.#warm.length === 0,
      isRunning: () => this.#state === 'running',
      refillOne: async () => {
        if (this.#context) this.#addWarm(await this.#create(this.#context, undefined));
      },
    });
  }

  get state(): DockerPoolState {
    return this.#state;
  }

  stats(): DockerPoolStats {
    return {
      size: this.#options.size,
      warm: this.#warm.length,
      creating: this.#creating,
      inUse: this.#inUse.size,
      removing: this.#background.removing,
    };
  }

  async check(): Promise<Availability> {
    if (this.#state !== 'running') return { available: false, reason: this.#notRunning().message };
    const availability = await this.#backend.check();
    const pool = `${this.#warm.length} of ${this.#options.size} containers warm`;
    return { ...availability, details: { ...availability.details, pool } };
  }

  async prepare(
    spec: Spec,
    scripts: readonly Script[],
    options: PrepareOptions = {},
  ): Promise<Instance> {
    const { signal } = options;
    if (this.#state !== 'running') throw this.#notRunning();
    assertSupported(this.name, this.capabilities, spec);
    const resolved = parseDockerOptions(spec, this.#options.image);
    const difference = findDifference(this.#shape, describeShape(spec, resolved));
    if (difference !== undefined) {
      throw new EncageError(
        'UNSUPPORTED_SPEC',
        `[${this.name}] ${difference.path}: this pool serves one sandbox shape and the spec differs there${difference.detail}. Match the pool's spec, or run it with the docker provider or a pool made for it.`,
        { path: difference.path },
      );
    }
    if (signal?.aborted) throw abortError(signal);
    const context = await this.#backend.resolveContext(spec, resolved, signal);
    if (this.#state !== 'running') throw this.#notRunning();
    this.#context = context;
    this.#background.hold();
    const taken = this.#takeWarm(context, spec);
    this.#background.pump();
    // Tracked from here: stop() waits until the container is handed out or removed.
    return this.#background.track(
      (async () => {
        const warm = taken ?? (await this.#create(context, signal));
        return this.#handOut(warm, spec, scripts, signal);
      })(),
    );
  }

  start(): Promise<void> {
    if (this.#state === 'idle') {
      this.#state = 'running';
      this.#starting = this.#warmUp();
    }
    if (this.#state === 'running' && this.#starting) return this.#starting;
    return Promise.reject(
      new EncageError(
        'PROVIDER_UNAVAILABLE',
        `[${this.name}] cannot start: the pool is ${this.#state}, and a stopped pool stays stopped. Create a new pool.`,
      ),
    );
  }

  stop(): Promise<void> {
    if (!this.#stopping) {
      this.#state = 'stopping';
      const attempt = this.#shutdown().finally(() => (this.#state = 'stopped'));
      this.#stopping = attempt;
      // What failed (an engine that did not answer) may work later: do not pin the failure.
      attempt.catch(() => {
        if (this.#stopping === attempt) this.#stopping = undefined;
      });
    }
    return this.#stopping;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.stop();
  }

  settled(): Promise<void> {
    return this.#background.settled();
  }

  async #warmUp(): Promise<void> {
    try {
      const { spec, resolved, size } = this.#options;
      const context = await this.#backend.resolveContext(spec, resolved, undefined);
      if (this.#state !== 'running') throw this.#notRunning();
      this.#context = context;
      const fills = Array.from({ length: size }, () =>
        this.#background.track(this.#create(context, undefined).then((w) => this.#addWarm(w))),
      );
      const failed = (await Promise.allSettled(fills)).find((fill) => fill.status === 'rejected');
      if (failed) throw failed.reason;
    } catch (error) {
      // Undo what was made (unless stop() is at it already), so that start() may be tried again.
      if (this.#state === 'running') {
        this.#state = 'idle';
        this.#starting = undefined;
        for (const warm of this.#warm.splice(0)) this.#background.discard(warm.resources);
        await this.settled();
      }
      throw error;
    }
  }

  async #shutdown(): Promise<void> {
    this.#background.cancelTimers();
    for (const warm of this.#warm.splice(0)) this.#background.discard(warm.resources);
    this.#background.retryLeftovers();
    const teardowns = await Promise.allSettled([...this.#inUse].map((i) => i.teardown()));
    await this.settled();
    const failed = teardowns.find((result) => result.status === 'rejected');
    const left = [...[...this.#inUse].map((i) => `encage-${i.id}`), ...this.#background.leftovers];
    if (failed !== undefined || left.length > 0) {
      throw new EncageError(
        'TEARDOWN_FAILED',
        `[${this.name}] cannot remove ${left.length} container(s) (${left.join(', ')}). Call stop() again once the engine answers, or run "encage gc" after this process ended.`,
        { cause: failed?.reason },
      );
    }
  }

  /** Takes the first warm container still fit for the spec; unfit ones are removed. */
  #takeWarm(context: PrepareContext, spec: Spec): Warm | undefined {
    const masks = resolveContainerMasks(spec, context);
    for (let warm = this.#warm.shift(); warm !== undefined; warm = this.#warm.shift()) {
      if (isFit(warm, context, masks)) return warm;
      this.#background.discard(warm.resources);
    }
    return undefined;
  }

  /** Writes the scripts into the container's (bound, private) scripts dir and hands it out. */
  async #handOut(
    warm: Warm,
    spec: Spec,
    scripts: readonly Script[],
    signal: AbortSignal | undefined,
  ): Promise<Instance> {
    try {
      await writeScripts(warm.resources.scriptsDir, scripts);
      await grantAccess(warm.resources.scriptsDir, warm.resources.access);
      if (signal?.aborted) throw abortError(signal);
      if (this.#state !== 'running') throw this.#notRunning();
    } catch (error) {
      this.#background.discard(warm.resources);
      throw error;
    }
    const instance: PooledInstance = new PooledInstance(warm.id, spec, warm.resources, {
      provider: this.name,
      init: warm.init,
      released: () => {
        this.#inUse.delete(instance);
        this.#background.discard(warm.resources);
      },
    });
    this.#inUse.add(instance);
    this.#background.hold();
    return instance;
  }

  /** Creates one container of the pool's shape; it is removed if the pool stopped meanwhile. */
  async #create(context: PrepareContext, signal: AbortSignal | undefined): Promise<Warm> {
    this.#creating += 1;
    try {
      const warm = await startWarm(this.#options.spec, context, this.name, signal);
      if (this.#state === 'running') return warm;
      this.#background.discard(warm.resources);
      throw this.#notRunning();
    } finally {
      this.#creating -= 1;
    }
  }

  #addWarm(warm: Warm): void {
    if (this.#state === 'running') this.#warm.push(warm);
    else this.#background.discard(warm.resources);
  }

  #notRunning(): EncageError {
    const hint =
      this.#state === 'idle'
        ? 'Call start() first.'
        : 'A stopped pool stays stopped: create a new one.';
    return new EncageError(
      'PROVIDER_UNAVAILABLE',
      `[${this.name}] not available: the pool is ${this.#state}. ${hint}`,
      { path: 'spec.provider' },
    );
  }
}
