import {
  BaseInstance,
  EncageError,
  type Capabilities,
  type Command,
  type Provider,
  type Spec,
} from '../../../src/index.js';

/** Claims every capability, so no spec is refused for lack of one. */
export const ALL_CAPABILITIES: Capabilities = {
  isolation: 1,
  filesystem: true,
  network: true,
  limits: ['memoryBytes', 'pids', 'cpus'],
  seccomp: true,
  tty: true,
  killsTree: true,
};

/** An instance that runs `true` and counts its teardowns. */
export class FakeInstance extends BaseInstance {
  readonly id: string;
  readonly provider: string;
  readonly root = '/nonexistent/fake-root';
  teardowns = 0;
  execs = 0;
  /** Teardowns that fail before one succeeds (an engine that does not answer for a while). */
  failingTeardowns = 0;

  constructor(
    provider: string,
    private readonly spec: Spec,
  ) {
    super(spec.labels);
    this.provider = provider;
    this.id = `fake-${Math.random().toString(16).slice(2)}`;
  }

  protected buildCommand(): Command {
    this.execs += 1;
    return { file: 'true', args: [], env: {}, cwd: this.spec.workdir };
  }

  protected release(): Promise<void> {
    this.teardowns += 1;
    if (this.teardowns <= this.failingTeardowns)
      return Promise.reject(new EncageError('TEARDOWN_FAILED', 'the backend did not answer'));
    return Promise.resolve();
  }
}

/** Records whether prepare (and exec on its instances) was ever reached. */
export function createRecordingProvider(name = 'recording'): {
  provider: Provider;
  prepared: FakeInstance[];
} {
  const prepared: FakeInstance[] = [];
  return {
    prepared,
    provider: {
      name,
      capabilities: ALL_CAPABILITIES,
      check: () => Promise.resolve({ available: true, reason: 'records calls' }),
      prepare(spec) {
        const instance = new FakeInstance(name, spec);
        prepared.push(instance);
        return Promise.resolve(instance);
      },
    },
  };
}

/**
 * A provider whose prepare never finishes by itself. `honours-abort` rejects with ABORTED when
 * its signal aborts; `ignores-abort` stays pending until the test calls `finish()`.
 */
export function createStuckProvider(
  name: string,
  mode: 'honours-abort' | 'ignores-abort',
): {
  provider: Provider;
  /** Resolves with the prepare's signal once a prepare started. */
  started: Promise<AbortSignal | undefined>;
  /** Lets a pending `ignores-abort` prepare resolve; returns the instance it resolved with. */
  finish: () => FakeInstance | undefined;
} {
  let markStarted: (signal: AbortSignal | undefined) => void = () => undefined;
  const started = new Promise<AbortSignal | undefined>((resolve) => (markStarted = resolve));
  let finish: () => FakeInstance | undefined = () => undefined;
  return {
    started,
    finish: () => finish(),
    provider: {
      name,
      capabilities: ALL_CAPABILITIES,
      check: () => Promise.resolve({ available: true, reason: 'stuck on purpose' }),
      prepare(spec, _scripts, options) {
        markStarted(options?.signal);
        return new Promise((resolve, reject) => {
          if (mode === 'honours-abort') {
            options?.signal?.addEventListener('abort', () =>
              reject(new EncageError('ABORTED', 'aborted while stuck')),
            );
            return;
          }
          finish = () => {
            const instance = new FakeInstance(name, spec);
            resolve(instance);
            return instance;
          };
        });
      },
    },
  };
}
