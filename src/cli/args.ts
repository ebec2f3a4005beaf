import { parseArgs } from 'node:util';
import { EncageError } from '../errors.js';
import type { RunFlags } from './spec-options.js';

/**
 * The command line, read with node's own util.parseArgs (strict: an unknown option is an error).
 * `run` stops reading options at `--` or at its first positional argument, so the command's own
 * flags (`encage run ls -la`) are never taken for encage's.
 */

interface OptionSpec {
  readonly type: 'string' | 'boolean';
  readonly short?: string;
  readonly multiple?: boolean;
  /** Placeholder shown in the help, for string options. */
  readonly value?: string;
  readonly help: string;
}

const JSON_OPTION: OptionSpec = { type: 'boolean', help: 'machine-readable output' };

const RUN_OPTIONS = {
  provider: {
    type: 'string',
    short: 'p',
    value: 'name',
    help: 'noop | scriptdir | bwrap | docker | auto (default auto)',
  },
  workdir: {
    type: 'string',
    short: 'C',
    value: 'dir',
    help: 'bound read-write at the same path; the cwd inside (default: cwd)',
  },
  ro: { type: 'string', multiple: true, value: 'path', help: 'extra read-only path (repeatable)' },
  rw: { type: 'string', multiple: true, value: 'path', help: 'extra read-write path (repeatable)' },
  deny: {
    type: 'string',
    multiple: true,
    value: 'path',
    help: 'hidden path, relative to the workdir or absolute (repeatable)',
  },
  network: { type: 'string', value: 'mode', help: 'none | host (default none)' },
  env: {
    type: 'string',
    short: 'e',
    multiple: true,
    value: 'NAME[=VALUE]',
    help: 'pass NAME from the host, or set it (repeatable)',
  },
  timeout: { type: 'string', value: 'dur', help: 'e.g. 500ms, 30s, 5m' },
  memory: { type: 'string', value: 'size', help: 'e.g. 256m, 2g' },
  pids: { type: 'string', value: 'n', help: 'most processes at once' },
  cpus: { type: 'string', value: 'n', help: 'CPU share, e.g. 0.5, 2' },
  image: { type: 'string', value: 'ref', help: 'docker image' },
  runtime: { type: 'string', value: 'name', help: 'docker runtime (runc, runsc)' },
  config: { type: 'string', value: 'file', help: 'JSON config with the spec fields' },
  json: { type: 'boolean', help: 'print one JSON result line on stdout after the run' },
} as const satisfies Record<string, OptionSpec>;

const NETWORK_MODES = ['none', 'host'];

interface CommandSpec {
  readonly usage: string;
  readonly summary: string;
  readonly options: Readonly<Record<string, OptionSpec>>;
}

const COMMANDS = {
  run: {
    usage: 'run [options] [--] <command> [args...]',
    summary:
      'run <command> in a sandbox; exit with its status (124 timeout, 125 encage failed, 128+N signal)',
    options: RUN_OPTIONS,
  },
  doctor: {
    usage: 'doctor [--json]',
    summary: 'probe each provider: available or not, why, and what it enforces here',
    options: { json: JSON_OPTION },
  },
  providers: {
    usage: 'providers [--json]',
    summary: 'list the registered providers and what they can enforce',
    options: { json: JSON_OPTION },
  },
  gc: {
    usage: 'gc [--json]',
    summary: 'remove what encage processes that died left behind (containers, temp dirs, cgroups)',
    options: { json: JSON_OPTION },
  },
} as const satisfies Record<string, CommandSpec>;

type CommandName = keyof typeof COMMANDS;

export type Invocation =
  /** `usage`: no command given; the help goes to stderr and the exit status is 125. */
  | { readonly kind: 'help' | 'usage'; readonly text: string }
  | {
      readonly kind: 'run';
      readonly flags: RunFlags & { json?: boolean };
      readonly command: string[];
    }
  | { readonly kind: 'doctor' | 'providers' | 'gc'; readonly json: boolean };

const HELP = { type: 'boolean', short: 'h' } as const;

/** Reads `argv` (without node and the script); throws INVALID_ARGUMENT naming what is wrong. */
export function parseCommandLine(argv: readonly string[]): Invocation {
  const [first, ...rest] = argv;
  if (first === undefined) return { kind: 'usage', text: programHelp() };
  if (first === '--help' || first === '-h') return { kind: 'help', text: programHelp() };
  if (first === 'help') {
    const topic = rest[0];
    return { kind: 'help', text: isCommand(topic) ? commandHelp(topic) : programHelp() };
  }
  if (!isCommand(first)) {
    throw usageError(`unknown command '${first}'`, 'encage --help');
  }
  const spec: CommandSpec = COMMANDS[first];
  const split = first === 'run' ? splitAtCommand(rest, spec.options) : { head: rest, tail: [] };
  let values: Record<string, string | boolean | string[] | undefined>;
  try {
    ({ values } = parseArgs({
      args: split.head,
      options: { ...spec.options, help: HELP },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    throw usageError(describeParseError(error, first), `encage ${first} --help`);
  }
  if (values.help === true) return { kind: 'help', text: commandHelp(first) };
  if (first !== 'run') return { kind: first, json: values.json === true };
  const network = values.network as string | undefined;
  if (network !== undefined && !NETWORK_MODES.includes(network)) {
    throw usageError(
      `--network: "${network}" is not one of ${NETWORK_MODES.join(', ')}`,
      'encage run --help',
    );
  }
  const strings = (name: string): string[] => (values[name] as string[] | undefined) ?? [];
  const flags: RunFlags & { json?: boolean } = {
    ...(values as Partial<RunFlags>),
    ro: strings('ro'),
    rw: strings('rw'),
    deny: strings('deny'),
    env: strings('env'),
    json: values.json === true,
  };
  return { kind: 'run', flags, command: split.tail };
}

function isCommand(name: string | undefined): name is CommandName {
  return name !== undefined && Object.hasOwn(COMMANDS, name);
}

/**
 * Splits `run`'s arguments where the command begins: after `--`, or at the first argument that
 * is neither an option nor an option's value.
 */
function splitAtCommand(
  args: readonly string[],
  options: Readonly<Record<string, OptionSpec>>,
): { head: string[]; tail: string[] } {
  const takesValue = new Set<string>();
  for (const [name, option] of Object.entries(options)) {
    if (option.type !== 'string') continue;
    takesValue.add(`--${name}`);
    if (option.short !== undefined) takesValue.add(`-${option.short}`);
  }
  let index = 0;
  while (index < args.length) {
    const arg = args[index] ?? '';
    if (arg === '--') return { head: args.slice(0, index), tail: args.slice(index + 1) };
    if (!arg.startsWith('-') || arg === '-') break;
    // `--name value` and `-p value` take the next argument; `--name=value` and `-pvalue` do not.
    index += takesValue.has(arg) ? 2 : 1;
  }
  return { head: args.slice(0, index), tail: args.slice(index) };
}

function describeParseError(error: unknown, command: string): string {
  const code = (error as { code?: unknown }).code;
  const message = error instanceof Error ? error.message : String(error);
  const quoted = /'([^']+)'/.exec(message)?.[1];
  switch (code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION':
      return `${command}: unknown option '${quoted ?? message}'`;
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE':
      return `${command}: ${message.split('.')[0] ?? message}`;
    case 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL':
      return `${command}: unexpected argument '${quoted ?? message}'`;
    default:
      return `${command}: ${message}`;
  }
}

function usageError(message: string, help: string): EncageError {
  return new EncageError('INVALID_ARGUMENT', `${message}. See: ${help}`, { path: 'argv' });
}

function programHelp(): string {
  const width = Math.max(...Object.values(COMMANDS).map((command) => command.usage.length));
  const lines = Object.values(COMMANDS).map(
    (command) => `  ${command.usage.padEnd(width)}  ${command.summary}`,
  );
  return [
    'Usage: encage <command> [options]',
    '',
    'Run one CLI invocation inside a sandbox: no secrets, no network, no escape.',
    '',
    'Commands:',
    ...lines,
    `  ${'help [command]'.padEnd(width)}  this help, or a command's`,
    '',
  ].join('\n');
}

function commandHelp(name: CommandName): string {
  const command: CommandSpec = COMMANDS[name];
  const rows = Object.entries({ ...command.options, help: { ...HELP, help: 'this help' } }).map(
    ([option, spec]: [string, OptionSpec]) => {
      const short = spec.short === undefined ? '    ' : `-${spec.short}, `;
      const value = spec.type === 'string' ? ` <${spec.value ?? 'value'}>` : '';
      return [`${short}--${option}${value}`, spec.help] as const;
    },
  );
  const width = Math.max(...rows.map(([flags]) => flags.length));
  return [
    `Usage: encage ${command.usage}`,
    '',
    command.summary,
    '',
    'Options:',
    ...rows.map(([flags, text]) => `  ${flags.padEnd(width)}  ${text}`),
    '',
  ].join('\n');
}
