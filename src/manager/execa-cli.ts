import { spawn } from 'node:child_process';
import type { execa as execaFromPackage } from 'execa';

/** The options launch() passes, as far as a CLI run uses them. */
interface CliLaunchOptions {
  readonly env: Readonly<Record<string, string>>;
  readonly cwd: string;
  readonly input?: unknown;
  readonly stdin?: 'inherit' | 'ignore' | 'pipe';
  readonly stdout?: 'inherit' | 'ignore' | 'pipe';
  readonly stderr?: 'inherit' | 'ignore' | 'pipe';
  readonly buffer?: boolean;
  readonly detached?: boolean;
}

/** The fields of an execa result that launch() reads. */
interface CliResult {
  readonly failed: boolean;
  readonly exitCode: number | undefined;
  readonly signal: NodeJS.Signals | undefined;
  readonly isMaxBuffer: false;
  readonly stdout: undefined;
  readonly stderr: undefined;
  /** The spawn error's code (ENOENT, EAGAIN...), when the program could not be started. */
  readonly code?: string | undefined;
}

/**
 * execa.ts for the CLI bundle (scripts/bundle-cli.mjs puts it in its place). A CLI run starts one
 * command with inherited stdio and keeps no output, so it uses none of execa's stream handling,
 * and loading execa (~100 modules) cost 7–12 ms of a ~115 ms run. This starts the command with
 * node's child_process and settles to the fields launch() reads from an execa result. Pipes,
 * input and buffered output are refused here: the CLI never asks for them (it refuses
 * `limits.outputBytes`), and the library does them with execa.
 */
export const execa = spawnInherited as unknown as typeof execaFromPackage;

function spawnInherited(
  file: string,
  args: readonly string[],
  options: CliLaunchOptions,
): Promise<CliResult> & { pid: number | undefined; kill(signal?: NodeJS.Signals): boolean } {
  const stdio = [options.stdin ?? 'ignore', options.stdout ?? 'pipe', options.stderr ?? 'pipe'];
  if (options.input !== undefined || options.buffer !== false || stdio.includes('pipe')) {
    throw new Error('the CLI launcher runs commands with inherited or ignored stdio only');
  }
  const child = spawn(file, args, {
    env: options.env,
    cwd: options.cwd,
    stdio,
    detached: options.detached ?? false,
  });
  const settled = new Promise<CliResult>((resolve) => {
    const none = { isMaxBuffer: false, stdout: undefined, stderr: undefined } as const;
    child.once('error', (error: NodeJS.ErrnoException) => {
      resolve({ ...none, failed: true, exitCode: undefined, signal: undefined, code: error.code });
    });
    child.once('close', (code, signal) => {
      resolve({
        ...none,
        failed: code !== 0,
        exitCode: code ?? undefined,
        signal: signal ?? undefined,
      });
    });
  });
  return Object.assign(settled, {
    pid: child.pid,
    kill: (signal?: NodeJS.Signals) => child.kill(signal),
  });
}
