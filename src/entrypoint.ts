import { EncageError } from './errors.js';
import { quoteShellWord } from './quote.js';
import type { Script } from './script.js';

/** Where the Manager puts the generated entrypoint inside the sandbox root. */
export const ENTRYPOINT_PATH = '.encage/entrypoint.sh';
export const ENV_NAME_PATTERN = /^[A-Za-z_][A-Za-z0-9_]*$/;
const ENTRYPOINT_MODE = 0o755;

/** Refuses env names that are not shell identifiers and values with NUL bytes. */
export function validateEnv(env: Record<string, string>, field = 'env'): void {
  for (const [name, value] of Object.entries(env)) {
    if (!ENV_NAME_PATTERN.test(name)) {
      throw new EncageError(
        'INVALID_ARGUMENT',
        `${field}: ${JSON.stringify(name)} is not a valid variable name. Use letters, digits and "_", not starting with a digit.`,
        { path: `${field}.${name}` },
      );
    }
    if (typeof value !== 'string' || value.includes('\0')) {
      throw new EncageError(
        'INVALID_ARGUMENT',
        `${field}.${name}: the value must be a string without NUL bytes.`,
        {
          path: `${field}.${name}`,
        },
      );
    }
  }
}

/** Refuses a command or argument that cannot be passed to exec (empty command, NUL byte). */
export function validateCommand(cmd: string, args: readonly string[]): void {
  if (typeof cmd !== 'string' || cmd.length === 0) {
    throw new EncageError('INVALID_ARGUMENT', 'command: empty. Give the program to run.', {
      path: 'command',
    });
  }
  [cmd, ...args].forEach((word, index) => {
    if (typeof word !== 'string' || word.includes('\0')) {
      throw new EncageError(
        'INVALID_ARGUMENT',
        `command word ${index}: must be a string without NUL bytes.`,
        { path: `command.${index}` },
      );
    }
  });
}

/**
 * The POSIX entrypoint: `#!/bin/sh`, one `export NAME='value'` per env entry in sorted order,
 * then `exec 'cmd' 'arg1' ...`, every word single-quoted.
 */
export function entrypointScript(
  cmd: string,
  args: readonly string[],
  env: Record<string, string>,
): Script {
  validateCommand(cmd, args);
  validateEnv(env);
  const names = Object.keys(env).sort();
  const lines = ['#!/bin/sh'];
  for (const name of names) lines.push(`export ${name}=${quoteShellWord(env[name] ?? '')}`);
  lines.push(`exec ${[cmd, ...args].map(quoteShellWord).join(' ')}`);
  return { innerPath: ENTRYPOINT_PATH, mode: ENTRYPOINT_MODE, contents: `${lines.join('\n')}\n` };
}
