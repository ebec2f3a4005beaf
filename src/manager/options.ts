import type { Instance, Provider } from '../provider.js';
import type { Script } from '../script.js';
import type { Spec } from '../spec.js';
import type { SandboxSubprocess, StdioOptions } from './launch.js';
import type { RunResult } from './result.js';

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
