import { EncageError } from './errors.js';
import type { Command, Instance } from './provider.js';

type InstanceState = 'ready' | 'closing' | 'closed';

/** Shared lifecycle of every instance: exec refused after teardown, teardown runs once. */
export abstract class BaseInstance implements Instance {
  abstract readonly id: string;
  abstract readonly provider: string;
  abstract readonly root: string;
  readonly labels: Readonly<Record<string, string>>;
  #state: InstanceState = 'ready';
  #teardown: Promise<void> | undefined;

  constructor(labels: Readonly<Record<string, string>>) {
    this.labels = labels;
  }

  get state(): InstanceState {
    return this.#state;
  }

  exec(cmd: string, args: readonly string[], env: Readonly<Record<string, string>>): Command {
    if (this.#state !== 'ready') {
      throw new EncageError(
        'INSTANCE_CLOSED',
        `[${this.provider}] exec refused: instance ${this.id} has been torn down. Prepare a new instance.`,
      );
    }
    return this.buildCommand(cmd, args, env);
  }

  /** Releases once; concurrent calls share it. After a failure a later call tries again. */
  teardown(): Promise<void> {
    if (!this.#teardown) {
      this.#state = 'closing';
      const attempt = this.#release();
      this.#teardown = attempt;
      // What failed (an engine that did not answer) may work later: do not pin the failure.
      attempt.catch(() => {
        if (this.#teardown === attempt) this.#teardown = undefined;
      });
    }
    return this.#teardown;
  }

  async #release(): Promise<void> {
    try {
      await this.release();
    } finally {
      this.#state = 'closed';
    }
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.teardown();
  }

  protected abstract buildCommand(
    cmd: string,
    args: readonly string[],
    env: Readonly<Record<string, string>>,
  ): Command;

  /** Frees everything the instance made; called once. */
  protected abstract release(): Promise<void>;
}
