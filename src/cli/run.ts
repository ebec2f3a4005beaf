import { isatty } from 'node:tty';
import { EncageError } from '../errors.js';
import type { Manager } from '../manager/manager.js';
import type { RunResult } from '../manager/result.js';
import { buildSpecInput, type RunFlags } from './spec-options.js';
import { writeOut } from './output.js';

const FORWARDED_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT'] as const;

/** `encage run`: stdio passes through, signals reach the command; resolves to the exit status. */
export async function runCommand(
  manager: Manager,
  flags: RunFlags & { json?: boolean },
  command: string[],
): Promise<number> {
  const [cmd, ...args] = command;
  if (cmd === undefined) {
    throw new EncageError(
      'INVALID_ARGUMENT',
      'run: no command given. Use: encage run [options] -- <command> [args...]',
      { path: 'command' },
    );
  }
  // Validated once, by spawn(); here only what the CLI itself refuses is read from the input.
  const spec = await buildSpecInput(flags);
  if (spec.limits?.outputBytes !== undefined) {
    throw new EncageError(
      'UNSUPPORTED_SPEC',
      'spec.limits.outputBytes: the CLI passes output straight through and cannot cut it. Remove it, or use the library (Manager.run) which truncates there.',
      { path: 'spec.limits.outputBytes' },
    );
  }
  // The warning goes by name: `auto` only ever picks a provider that isolates.
  const name = spec.provider ?? 'auto';
  const provider = manager.providers().find((candidate) => candidate.name === name);
  if (provider?.capabilities.isolation === 0) {
    process.stderr.write(
      `encage: warning: provider "${provider.name}" does not isolate; the command sees this host's files and network.\n`,
    );
  }
  const interactive = isatty(0); // not process.stdin, which would set up a stream for nothing
  // Listen before spawning: a signal that arrives while the sandbox starts is delivered once it runs.
  let child: { kill(signal: NodeJS.Signals): boolean } | undefined;
  let pending: NodeJS.Signals | undefined;
  const forward = (signal: NodeJS.Signals): void => {
    if (child) child.kill(signal);
    else pending = signal;
  };
  for (const signal of FORWARDED_SIGNALS) process.on(signal, forward);
  let result: RunResult;
  try {
    const running = await manager.spawn(spec, cmd, args, {
      stdin: 'inherit',
      stdout: 'inherit',
      stderr: 'inherit',
      buffer: false,
      // Sharing the terminal's process group lets ^C reach the command and keeps it able to read the TTY.
      detached: !interactive,
    });
    child = running.subprocess;
    if (pending) child.kill(pending);
    result = await running.result;
  } finally {
    for (const signal of FORWARDED_SIGNALS) process.off(signal, forward);
  }
  if (flags.json) {
    const { stdout: _stdout, stderr: _stderr, ...summary } = result;
    writeOut(`${JSON.stringify(summary)}\n`);
  }
  return result.exitCode;
}
