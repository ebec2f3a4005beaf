import { execa, type Options as ExecaOptions, type Result, type ResultPromise } from 'execa';
import { EncageError } from '../errors.js';
import type { Command, Instance } from '../provider.js';
import type { Spec } from '../spec.js';
import { toExitCode, type RunResult } from './result.js';

type StdioOption = 'pipe' | 'inherit' | 'ignore';

/** How the sandboxed command's stdio is wired and how its output is kept. */
export interface StdioOptions {
  /** Data written to stdin, then closed. */
  readonly input?: string | Uint8Array | undefined;
  /** Default: `"ignore"` (or the `input`); `"pipe"` to stream; `"inherit"` for a terminal. */
  readonly stdin?: StdioOption | undefined;
  readonly stdout?: StdioOption | undefined;
  readonly stderr?: StdioOption | undefined;
  /** Keep stdout/stderr in the result (default true); false when you consume the streams. */
  readonly buffer?: boolean | undefined;
  /**
   * Start the command in its own process group so a timeout or abort kills the whole group.
   * Default true; the CLI turns it off when the command shares the terminal.
   */
  readonly detached?: boolean | undefined;
}

export type SandboxSubprocess = ResultPromise<ExecaOptions>;

interface Ending {
  timedOut: boolean;
  aborted: boolean;
}

/** Spawns `command` with execa and settles to a RunResult; never rejects for a non-zero exit. */
export function launch(
  instance: Instance,
  command: Command,
  spec: Spec,
  stdio: StdioOptions,
  signal: AbortSignal | undefined,
): { subprocess: SandboxSubprocess; done: Promise<RunResult> } {
  const started = performance.now();
  const detached = stdio.detached ?? true;
  const subprocess = execa(command.file, [...command.args], {
    env: command.env,
    extendEnv: false,
    cwd: command.cwd,
    ...(stdio.input === undefined ? { stdin: stdio.stdin ?? 'ignore' } : { input: stdio.input }),
    stdout: stdio.stdout ?? 'pipe',
    stderr: stdio.stderr ?? 'pipe',
    buffer: stdio.buffer ?? true,
    maxBuffer: spec.limits.outputBytes ?? Number.POSITIVE_INFINITY,
    reject: false,
    stripFinalNewline: false,
    detached,
  }) as SandboxSubprocess;
  const ending: Ending = { timedOut: false, aborted: false };
  const stop = (why: keyof Ending): void => {
    if (ending.timedOut || ending.aborted) return;
    ending[why] = true;
    killTree(subprocess, detached);
    // Some sandboxes (containers) outlive their client process: tearing down ends them for sure.
    void instance.teardown().catch(() => undefined);
  };
  const timer =
    spec.limits.timeoutMs === undefined
      ? undefined
      : setTimeout(() => stop('timedOut'), spec.limits.timeoutMs);
  const onAbort = (): void => stop('aborted');
  signal?.addEventListener('abort', onAbort, { once: true });
  if (signal?.aborted) onAbort();
  const done = subprocess.then((result) => {
    clearTimeout(timer);
    signal?.removeEventListener('abort', onAbort);
    return toRunResult(instance, command, result, ending, performance.now() - started);
  });
  return { subprocess, done };
}

function killTree(subprocess: SandboxSubprocess, detached: boolean): void {
  if (subprocess.pid === undefined) return;
  try {
    if (detached) process.kill(-subprocess.pid, 'SIGKILL');
    else subprocess.kill('SIGKILL');
  } catch {
    subprocess.kill('SIGKILL'); // the group may be gone already
  }
}

function toRunResult(
  instance: Instance,
  command: Command,
  result: Result,
  ending: Ending,
  durationMs: number,
): RunResult {
  const signal = result.signal;
  if (
    result.failed &&
    result.exitCode === undefined &&
    signal === undefined &&
    !ending.timedOut &&
    !ending.aborted
  ) {
    throw new EncageError(
      'SPAWN_FAILED',
      `[${instance.provider}] cannot start "${command.file}": ${result.shortMessage}. Check that it is installed and executable.`,
      { path: command.file, cause: result },
    );
  }
  return {
    exitCode: toExitCode({ exitCode: result.exitCode, signal, timedOut: ending.timedOut }),
    signal,
    timedOut: ending.timedOut,
    aborted: ending.aborted,
    outputTruncated: result.isMaxBuffer,
    stdout: typeof result.stdout === 'string' ? result.stdout : '',
    stderr: typeof result.stderr === 'string' ? result.stderr : '',
    durationMs,
    provider: instance.provider,
    instanceId: instance.id,
  };
}
