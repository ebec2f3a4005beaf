import { availableParallelism } from 'node:os';
import pLimit, { type LimitFunction } from 'p-limit';
import { assertSupported } from '../capabilities.js';
import { entrypointScript, validateCommand } from '../entrypoint.js';
import { EncageError } from '../errors.js';
import type { Instance, Provider } from '../provider.js';
import { validateScripts, type Script } from '../script.js';
import { parseSpec, type SandboxSpecInput, type Spec } from '../spec.js';
import { launch, type SandboxSubprocess, type StdioOptions } from './launch.js';
import type { RunResult } from './result.js';
import { selectProvider, type Selection } from './select.js';
import { onTerminationSignal } from './signals.js';

const CONCURRENCY_PER_CORE = 8;

export interface ManagerOptions {
  /** Providers to register at once. */
  readonly providers?: readonly Provider[];
  /** Most sandboxes alive at once through run/spawn; more wait their turn. Default 8 per core. */
  readonly concurrency?: number;
  /** Tear down live instances on SIGINT/SIGTERM/SIGHUP, then let the signal act. Default true. */
  readonly cleanupOnSignal?: boolean;
}

export interface RunOptions extends StdioOptions {
  /** Extra files written into the sandbox root besides the entrypoint. */
  readonly scripts?: readonly Script[] | undefined;
  readonly signal?: AbortSignal | undefined;
}

/** A running sandboxed command: stream its stdio, then await `result`. */
export interface SandboxedProcess {
  readonly instance: Instance;
  readonly provider: Provider;
  readonly spec: Spec;
  readonly subprocess: SandboxSubprocess;
  /** Settles after the command ended and the instance was torn down. */
  readonly result: Promise<RunResult>;
}

/** Registers providers, prepares instances, runs commands in them and cleans up after them. */
export class Manager implements AsyncDisposable {
  readonly #providers = new Map<string, Provider>();
  readonly #live = new Set<Instance>();
  readonly #pending = new Set<AbortController>();
  readonly #limit: LimitFunction;
  readonly #cleanupOnSignal: boolean;
  #removeSignalHandlers: (() => void) | undefined;
  #closing: Promise<void> | undefined;

  constructor(options: ManagerOptions = {}) {
    this.#limit = pLimit(options.concurrency ?? availableParallelism() * CONCURRENCY_PER_CORE);
    this.#cleanupOnSignal = options.cleanupOnSignal ?? true;
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
      void this.#limit(async () => {
        let instance: Instance | undefined;
        try {
          instance = await this.#prepareWith(provider, spec, scripts, options.signal);
          const command = instance.exec(cmd, args, spec.env);
          const { subprocess, done } = launch(instance, command, spec, options, options.signal);
          const prepared = instance;
          const result = done.finally(() => prepared.teardown());
          resolve({ instance, provider, spec, subprocess, result });
          await result.catch(() => undefined);
        } catch (error) {
          await instance?.teardown().catch(() => undefined);
          reject(error instanceof Error ? error : new Error(String(error)));
        }
      });
    });
  }

  /** Tears down every live instance and aborts prepares under way. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      for (const controller of this.#pending)
        controller.abort(new EncageError('MANAGER_CLOSED', 'manager closed'));
      this.#limit.clearQueue();
      await Promise.allSettled([...this.#live].map((instance) => instance.teardown()));
      this.#removeSignalHandlers?.();
      this.#removeSignalHandlers = undefined;
    })();
    return this.#closing;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  async #prepareWith(
    provider: Provider,
    spec: Spec,
    scripts: readonly Script[],
    signal: AbortSignal | undefined,
  ): Promise<Instance> {
    assertSupported(provider.name, provider.capabilities, spec);
    const controller = new AbortController();
    const signals = signal ? [signal, controller.signal] : [controller.signal];
    this.#pending.add(controller);
    let instance: Instance;
    try {
      instance = await provider.prepare(spec, scripts, { signal: AbortSignal.any(signals) });
    } finally {
      this.#pending.delete(controller);
    }
    if (this.#closing) {
      await instance.teardown();
      throw new EncageError(
        'MANAGER_CLOSED',
        'the manager was closed while the instance was being prepared',
      );
    }
    this.#track(instance);
    return instance;
  }

  #track(instance: Instance): void {
    this.#live.add(instance);
    if (this.#cleanupOnSignal && !this.#removeSignalHandlers) {
      this.#removeSignalHandlers = onTerminationSignal(() => this.close());
    }
    const teardown = instance.teardown.bind(instance);
    // Untrack once torn down, whoever calls teardown.
    Object.defineProperty(instance, 'teardown', {
      value: () =>
        teardown().finally(() => {
          this.#live.delete(instance);
          if (this.#live.size === 0 && this.#removeSignalHandlers) {
            this.#removeSignalHandlers();
            this.#removeSignalHandlers = undefined;
          }
        }),
      configurable: true,
    });
  }

  #assertOpen(): void {
    if (this.#closing)
      throw new EncageError('MANAGER_CLOSED', 'the manager is closed; create a new Manager.');
  }
}
