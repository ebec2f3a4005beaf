import { existsSync } from 'node:fs';
import type { Options as ExecaOptions, Result, ResultPromise } from 'execa';
import { EncageError } from '../errors.js';
import type { Command, Instance } from '../provider.js';
import type { Spec } from '../spec.js';
import { execa } from './execa.js';
import { toExitCode, type RunResult } from './result.js';
import { spawnGuarded } from './spawn-guard.js';

type StdioOption = 'pipe' | 'inherit' | 'ignore';
/** The longest delay setTimeout takes (2^31 - 1 ms, about 24.8 days). */
const MAX_TIMER_MS = 2 ** 31 - 1;

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
  let subprocess: SandboxSubprocess;
  try {
    subprocess = spawnGuarded(
      () =>
        execa(command.file, [...command.args], {
          env: command.env,
          extendEnv: false,
          cwd: command.cwd,
          ...(stdio.input === undefined
            ? { stdin: stdio.stdin ?? 'ignore' }
            : { input: stdio.input }),
          stdout: stdio.stdout ?? 'pipe',
          stderr: stdio.stderr ?? 'pipe',
          buffer: stdio.buffer ?? true,
          // Bytes, not characters: execa counts maxBuffer in the unit of `encoding`.
          encoding: 'buffer',
          maxBuffer: spec.limits.outputBytes ?? Number.POSITIVE_INFINITY,
          reject: false,
          stripFinalNewline: false,
          detached,
        }) as SandboxSubprocess,
    );
  } catch (error) {
    // execa throws synchronously when spawn fails before stdio exists (EMFILE, ENFILE).
    throw spawnFailed(instance, command, error);
  }
  const ending: Ending = { timedOut: false, aborted: false };
  const stop = (why: keyof Ending): void => {
    if (ending.timedOut || ending.aborted) return;
    ending[why] = true;
    killTree(subprocess, detached);
    // Some sandboxes (containers) outlive their client process: tearing down ends them for sure.
    void instance.teardown().catch(() => undefined);
  };
  const cancelTimer =
    spec.limits.timeoutMs === undefined
      ? undefined
      : startTimer(spec.limits.timeoutMs, () => stop('timedOut'));
  killPastOutputLimit(subprocess, detached, stdio.buffer === false ? undefined : spec.limits);
  const onAbort = (): void => stop('aborted');
  signal?.addEventListener('abort', onAbort, { once: true });
  if (signal?.aborted) onAbort();
  const done = subprocess.then((result) => {
    cancelTimer?.();
    signal?.removeEventListener('abort', onAbort);
    return toRunResult(instance, command, result, ending, performance.now() - started);
  });
  return { subprocess, done };
}

/** setTimeout takes at most a 32-bit delay (and fires at once beyond it): longer ones wait in steps. */
function startTimer(ms: number, onFire: () => void): () => void {
  let timer: NodeJS.Timeout;
  const arm = (left: number): void => {
    const step = Math.min(left, MAX_TIMER_MS);
    timer = setTimeout(() => (left > step ? arm(left - step) : onFire()), step);
  };
  arm(ms);
  return () => clearTimeout(timer);
}

/**
 * At outputBytes execa cuts the output and closes the pipe, but does not kill the command: one
 * that survives the broken pipe (or whose children do) would run on. Its tree is killed here.
 */
function killPastOutputLimit(
  subprocess: SandboxSubprocess,
  detached: boolean,
  limits: Spec['limits'] | undefined,
): void {
  const limit = limits?.outputBytes;
  if (limit === undefined) return;
  for (const stream of [subprocess.stdout, subprocess.stderr]) {
    let seen = 0;
    stream?.on('data', (chunk: Uint8Array) => {
      seen += chunk.length;
      if (seen > limit) killTree(subprocess, detached);
    });
  }
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
    throw spawnFailed(instance, command, result);
  }
  const startFailure =
    result.exitCode === undefined || ending.timedOut || ending.aborted
      ? undefined
      : instance.startFailure?.(command);
  if (startFailure !== undefined) {
    // Its own words are the last line it wrote to stderr (when buffered; else they are on screen).
    const said = decodeOutput(result.stderr, false).trim().split('\n').at(-1);
    throw new EncageError(
      'SPAWN_FAILED',
      `[${instance.provider}] the sandbox did not start: ${startFailure} (exit ${result.exitCode}${said ? `: ${said}` : ''}). Run "encage doctor"; check the spec's paths and limits.`,
      { path: command.file },
    );
  }
  return {
    exitCode: toExitCode({ exitCode: result.exitCode, signal, timedOut: ending.timedOut }),
    signal,
    timedOut: ending.timedOut,
    aborted: ending.aborted,
    outputTruncated: result.isMaxBuffer,
    stdout: decodeOutput(result.stdout, result.isMaxBuffer),
    stderr: decodeOutput(result.stderr, result.isMaxBuffer),
    durationMs,
    provider: instance.provider,
    instanceId: instance.id,
  };
}

/** UTF-8 text of buffered output; a cut output drops a character split by the cut. */
function decodeOutput(output: unknown, truncated: boolean): string {
  if (!(output instanceof Uint8Array)) return '';
  return new TextDecoder().decode(output, { stream: truncated });
}

/**
 * SPAWN_FAILED naming what is wrong: a vanished workdir, or the program and the errno. Never the
 * whole command line, which can carry env values (bwrap `--setenv`).
 */
function spawnFailed(instance: Instance, command: Command, cause: unknown): EncageError {
  if (!existsSync(command.cwd)) {
    return new EncageError(
      'SPAWN_FAILED',
      `[${instance.provider}] cannot start the command: the workdir ${command.cwd} no longer exists. Recreate it or prepare a new instance.`,
      { path: command.cwd, cause },
    );
  }
  const code = (cause as { code?: unknown }).code;
  const why = typeof code === 'string' ? code : 'spawn failed';
  const hint =
    why === 'EMFILE' || why === 'ENFILE'
      ? 'Out of file descriptors: close some or raise the limit (ulimit -n)'
      : 'Check that it is installed and executable';
  return new EncageError(
    'SPAWN_FAILED',
    `[${instance.provider}] cannot start "${command.file}": ${why}. ${hint}.`,
    { path: command.file, cause },
  );
}
