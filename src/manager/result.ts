import { constants } from 'node:os';

/** Exit status when the time limit ran out, as timeout(1) does. */
export const EXIT_TIMEOUT = 124;
/** Exit status when encage itself failed (bad spec, provider unavailable, prepare failed). */
export const EXIT_ENCAGE_FAILED = 125;
const SIGNAL_EXIT_BASE = 128;

/** The outcome of one sandboxed run. A non-zero exit is data, not an exception. */
export interface RunResult {
  /** The CLI-style status: the command's own, 128+N for signal N, 124 on timeout. */
  readonly exitCode: number;
  /** The signal that ended the command (or the sandbox), if any. */
  readonly signal: NodeJS.Signals | undefined;
  readonly timedOut: boolean;
  readonly aborted: boolean;
  /** True when output passed `limits.outputBytes`: it was cut there and the command killed. */
  readonly outputTruncated: boolean;
  /** Buffered output (empty strings when the output was streamed elsewhere). */
  readonly stdout: string;
  readonly stderr: string;
  readonly durationMs: number;
  readonly provider: string;
  readonly instanceId: string;
}

/** Maps a process outcome to the single exit status the CLI uses. */
export function toExitCode(outcome: {
  exitCode?: number | undefined;
  signal?: string | undefined;
  timedOut: boolean;
}): number {
  if (outcome.timedOut) return EXIT_TIMEOUT;
  if (outcome.exitCode !== undefined) return outcome.exitCode;
  const number = outcome.signal ? constants.signals[outcome.signal as NodeJS.Signals] : undefined;
  return number === undefined ? EXIT_ENCAGE_FAILED : SIGNAL_EXIT_BASE + number;
}
