import { availableParallelism } from 'node:os';
import pLimit, { type LimitFunction } from 'p-limit';
import { assertSupported } from '../capabilities.js';
import { entrypointScript, validateCommand } from '../entrypoint.js';
import { EncageError } from '../errors.js';
import type { Instance, Provider } from '../provider.js';
import { holdFdReserve } from '../util/fd-reserve.js';
import { validateScripts, type Script } from '../script.js';
import { parseSpec, type SandboxSpecInput, type Spec } from '../spec.js';
import { createAbortLinks } from './abort-links.js';
import { asPrepareError, closedError, settledWithin } from './failures.js';
import { launch } from './launch.js';
import type { ManagerOptions, RunOptions, SandboxedProcess } from './options.js';
import type { RunResult } from './result.js';
import { selectProvider, type Selection } from './select.js';
import { onTerminationSignal } from './signals.js';

const CONCURRENCY_PER_CORE = 8;
/** How long close() waits for aborted prepares and commands to wind down. */
export const CLOSE_GRACE_MS = 5_000;

/** Registers providers, prepares instances, runs commands in them and cleans up after them. */
export class Manager implements AsyncDisposable {
  readonly #providers = new Map<string, Provider>();
  readonly #live = new Set<Instance>();
  /** Prepares and runs under way, each with the controller close() aborts and its settling. */
  readonly #pending = new Map<AbortController, Promise<unknown>>();
  /** Rejecters of runs waiting for a concurrency slot. */
  readonly #queued = new Set<(error: EncageError) => void>();
  readonly #limit: LimitFunction;
  readonly #linkAbort = createAbortLinks();
  readonly #cleanupOnSignal: boolean;
  #removeSignalHandlers: (() => void) | undefined;
  #closing: Promise<void> | undefined;
  #closed = false;

  constructor(options: ManagerOptions = {}) {
    this.#limit = pLimit(options.concurrency ?? availableParallelism() * CONCURRENCY_PER_CORE);
    this.#cleanupOnSignal = options.cleanupOnSignal ?? true;
    holdFdReserve(); // now, while descriptors are free: cleanup needs one when they run out
    for (const provider of options.providers ?? []) this.register(provider);
  }

  /** Adds a provider; its name must be new. */
  register(provider: Provider): this {
    const existing = this.#providers.get(provider.name);
    if (existing) {
      throw new EncageError(
        'DUPLICATE_PROVIDER',
        `provider "${provider.name}" is already registered (capabilities isolation ${existing.capabilities.isolation}); the new one (isolation ${provider.capabilities.isolation}) was refused. Unregister the first or pick another name.`,
        { path: provider.name },
      );
    }
    this.#providers.set(provider.name, provider);
    return this;
  }

  /** Removes a provider; true if it was registered. Live instances are not affected. */
  unregister(name: string): boolean {
    return this.#providers.delete(name);
  }

  providers(): Provider[] {
    return [...this.#providers.values()];
  }

  /** Instances prepared and not yet torn down. */
  instances(): Instance[] {
    return [...this.#live];
  }

  /** Resolves a provider name (or `auto`) to an available provider, with the reason. */
  select(name = 'auto'): Promise<Selection> {
    return selectProvider(this.#providers, name);
  }

  /**
   * Validates the spec, picks the provider and prepares an instance. With `invocation`, the
   * generated entrypoint script for it is written into the sandbox too. The instance is tracked
   * until its teardown.
   */
  async prepare(
    specInput: SandboxSpecInput | Spec,
    scripts: readonly Script[] = [],
    options: {
      signal?: AbortSignal | undefined;
      invocation?: { cmd: string; args: readonly string[] };
    } = {},
  ): Promise<Instance> {
    this.#assertOpen();
    const spec = parseSpec(specInput);
    const all = [...validateScripts(scripts)];
    if (options.invocation) {
      validateCommand(options.invocation.cmd, options.invocation.args);
      all.push(entrypointScript(options.invocation.cmd, options.invocation.args, spec.env));
    }
    const { provider } = await this.select(spec.provider);
    return this.#prepareWith(provider, spec, all, options.signal);
  }

  /** One-shot: prepare, run `cmd args`, wait, tear down (on every path). Output is buffered. */
  async run(
    specInput: SandboxSpecInput | Spec,
    cmd: string,
    args: readonly string[] = [],
    options: RunOptions = {},
  ): Promise<RunResult> {
    const running = await this.spawn(specInput, cmd, args, options);
    return running.result;
  }

  /** Like run, but hands back the running subprocess for streaming stdin/stdout/stderr. */
  async spawn(
    specInput: SandboxSpecInput | Spec,
    cmd: string,
    args: readonly string[] = [],
    options: RunOptions = {},
  ): Promise<SandboxedProcess> {
    this.#assertOpen();
    const spec = parseSpec(specInput);
    validateCommand(cmd, args);
    const scripts = [
      ...validateScripts(options.scripts ?? []),
      entrypointScript(cmd, args, spec.env),
    ];
    const { provider } = await this.select(spec.provider);
    assertSupported(provider.name, provider.capabilities, spec);
    return new Promise<SandboxedProcess>((resolve, reject) => {
      this.#queued.add(reject);
      void this.#limit(async () => {
        this.#queued.delete(reject);
        if (this.#closed) {
          reject(closedError());
          return;
        }
        // The whole run is in flight until its result settled: close() aborts it and waits.
        await this.#inFlight(options.signal, async (signal) => {
          let instance: Instance | undefined;
          try {
            instance = await this.#prepareWith(provider, spec, scripts, signal);
            const command = instance.exec(cmd, args, spec.env);
            const { subprocess, done } = launch(instance, command, spec, options, signal);
            const prepared = instance;
            const result = done.finally(() => this.#release(prepared));
            resolve({ instance, provider, spec, subprocess, result });
            await result.catch(() => undefined);
          } catch (error) {
            if (instance) await this.#release(instance).catch(() => undefined);
            reject(error instanceof Error ? error : new Error(String(error)));
          }
        });
      });
    });
  }

  /**
   * Stops everything and releases every resource. Idempotent; later calls return the same promise.
   * Aborts prepares and commands under way (their results say `aborted`), rejects queued runs
   * with MANAGER_CLOSED, and tears down every live instance. It waits for the teardowns, and
   * at most CLOSE_GRACE_MS for aborted work to wind down: a provider whose prepare ignores the
   * abort is not waited for (its instance is torn down as soon as that prepare resolves).
   */
  close(): Promise<void> {
    if (!this.#closing) {
      this.#closed = true; // set before any abort listener runs
      this.#closing = this.#shutdown();
    }
    return this.#closing;
  }

  async #shutdown(): Promise<void> {
    for (const controller of this.#pending.keys()) controller.abort(closedError());
    this.#limit.clearQueue();
    for (const reject of this.#queued) reject(closedError());
    this.#queued.clear();
    const winding = Promise.allSettled([...this.#pending.values()]);
    await Promise.allSettled([...this.#live].map((instance) => this.#release(instance)));
    await settledWithin(winding, CLOSE_GRACE_MS);
    this.#removeSignalHandlers?.();
    this.#removeSignalHandlers = undefined;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  #prepareWith(
    provider: Provider,
    spec: Spec,
    scripts: readonly Script[],
    signal: AbortSignal | undefined,
  ): Promise<Instance> {
    assertSupported(provider.name, provider.capabilities, spec);
    return this.#inFlight(signal, async (combined) => {
      let instance: Instance;
      try {
        instance = await provider.prepare(spec, scripts, { signal: combined });
      } catch (error) {
        throw asPrepareError(provider.name, error);
      }
      if (this.#closed) {
        await instance.teardown();
        throw closedError();
      }
      this.#track(instance);
      return instance;
    });
  }

  /** Runs `task` with a signal that close() aborts; close() waits (bounded) for it to settle. */
  async #inFlight<T>(
    signal: AbortSignal | undefined,
    task: (signal: AbortSignal) => Promise<T>,
  ): Promise<T> {
    const controller = new AbortController();
    if (this.#closed) controller.abort(closedError());
    const unlink = this.#linkAbort(signal, controller);
    let settled: () => void = () => undefined;
    // Registered before the task starts: a signal arriving during it finds the handlers in place.
    this.#pending.set(controller, new Promise<void>((resolve) => (settled = resolve)));
    this.#syncSignalHandlers();
    try {
      return await task(controller.signal);
    } finally {
      unlink();
      settled();
      this.#pending.delete(controller);
      this.#syncSignalHandlers();
    }
  }

  #track(instance: Instance): void {
    this.#live.add(instance);
    this.#syncSignalHandlers();
    const teardown = instance.teardown.bind(instance);
    try {
      // Untrack once torn down, whoever calls teardown.
      Object.defineProperty(instance, 'teardown', {
        value: () => teardown().then(() => this.#untrack(instance)),
        configurable: true,
      });
    } catch {
      // A frozen instance: it is untracked when the Manager tears it down (run, spawn, close).
    }
  }

  /**
   * Tears an instance down and stops tracking it, even if its teardown could not be wrapped. One
   * whose teardown failed stays tracked: close() tries it again.
   */
  #release(instance: Instance): Promise<void> {
    return instance.teardown().then(() => this.#untrack(instance));
  }

  #untrack(instance: Instance): void {
    this.#live.delete(instance);
    this.#syncSignalHandlers();
  }

  /**
   * Signal handlers exist exactly while something could leave resources behind. While closing
   * they stay until the shutdown is over, so a repeated signal cannot cut the cleanup short.
   */
  #syncSignalHandlers(): void {
    if (this.#closed) return;
    const busy = this.#live.size > 0 || this.#pending.size > 0;
    if (busy && this.#cleanupOnSignal && !this.#removeSignalHandlers) {
      this.#removeSignalHandlers = onTerminationSignal(() => this.close());
    } else if (!busy && this.#removeSignalHandlers) {
      this.#removeSignalHandlers();
      this.#removeSignalHandlers = undefined;
    }
  }

  #assertOpen(): void {
    if (this.#closed) throw closedError();
  }
}
