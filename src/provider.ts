import type { Script } from './script.js';
import type { Spec } from './spec.js';

/** Limits a provider can enforce itself; `timeoutMs` and `outputBytes` are the Manager's. */
export type EnforcedLimit = 'memoryBytes' | 'pids' | 'cpus';

/** What a provider enforces. The Manager reads these, never the provider's name. */
export interface Capabilities {
  /** 0: isolates nothing. Higher is stronger; `auto` picks the highest available. */
  readonly isolation: number;
  /** Deny-by-default filesystem, `readOnly`/`readWrite` grants and `deny` paths. */
  readonly filesystem: boolean;
  /** Can cut the network (`network: "none"`). */
  readonly network: boolean;
  /** Limits it may enforce (the host can still refuse some; see `check()`). */
  readonly limits: readonly EnforcedLimit[];
  /** A seccomp filter denies dangerous syscalls. */
  readonly seccomp: boolean;
  /** A TTY passed to the command stays a TTY. */
  readonly tty: boolean;
  /** Killing the command kills every process it started, even `setsid` daemons. */
  readonly killsTree: boolean;
}

/** The answer of `check()`: available or not, and why, in one line a person can act on. */
export interface Availability {
  readonly available: boolean;
  readonly reason: string;
  /** What this host lets the provider enforce, e.g. `{ limits: "cgroup v1" }`. */
  readonly details?: Readonly<Record<string, string>>;
}

/** An unstarted command, like Go's exec.Cmd: run outside the sandbox, it runs one CLI inside. */
export interface Command {
  readonly file: string;
  readonly args: readonly string[];
  /** The complete environment for `file` itself; spawn with `extendEnv: false`. */
  readonly env: Readonly<Record<string, string>>;
  readonly cwd: string;
}

/** One prepared sandbox serving exactly one CLI invocation. */
export interface Instance extends AsyncDisposable {
  readonly id: string;
  readonly provider: string;
  readonly labels: Readonly<Record<string, string>>;
  /** Where scripts' innerPaths are rooted, as a path seen inside the sandbox. */
  readonly root: string;
  /** Builds the command; refused after teardown. */
  exec(cmd: string, args: readonly string[], env: Readonly<Record<string, string>>): Command;
  /** Releases every process, mount, container, temp dir and cgroup. Idempotent. */
  teardown(): Promise<void>;
  /**
   * Optional. Called when a command built by `exec` exited with a status (not killed, not timed
   * out): why the sandbox itself failed to start, or undefined when the status is the command's.
   * The Manager then fails the run with SPAWN_FAILED instead of reporting that status.
   */
  startFailure?(command: Command): string | undefined;
}

export interface PrepareOptions {
  readonly signal?: AbortSignal | undefined;
}

/** A sandbox backend. Stateless apart from a cached `check()`; safe for concurrent use. */
export interface Provider {
  readonly name: string;
  readonly capabilities: Capabilities;
  /** Probes the backend for real (cached); says why it is not available. */
  check(): Promise<Availability>;
  prepare(spec: Spec, scripts: readonly Script[], options?: PrepareOptions): Promise<Instance>;
}
