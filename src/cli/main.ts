#!/usr/bin/env node
import { Command, CommanderError, Option } from 'commander';
import { createDefaultProviders } from '../default-providers.js';
import { isEncageError } from '../errors.js';
import { Manager } from '../manager/manager.js';
import { EXIT_ENCAGE_FAILED } from '../manager/result.js';
import { doctorCommand } from './doctor.js';
import { writeOut } from './output.js';
import { runCommand } from './run.js';
import type { RunFlags } from './spec-options.js';

const collect = (value: string, previous: string[]): string[] => [...previous, value];

function buildProgram(manager: Manager, setExit: (code: number) => void): Command {
  const program = new Command('encage')
    .description('Run one CLI invocation inside a sandbox: no secrets, no network, no escape.')
    .enablePositionalOptions()
    .exitOverride()
    .configureOutput({ writeOut, writeErr: (text) => process.stderr.write(text) });
  program
    .command('run')
    .description(
      'run <command> in a sandbox; exit with its status (124 timeout, 125 encage failed, 128+N signal)',
    )
    .option('-p, --provider <name>', 'noop | scriptdir | bwrap | docker | auto')
    .option(
      '-C, --workdir <dir>',
      'bound read-write at the same path; the cwd inside (default: cwd)',
    )
    .option('--ro <path>', 'extra read-only path (repeatable)', collect, [])
    .option('--rw <path>', 'extra read-write path (repeatable)', collect, [])
    .option(
      '--deny <path>',
      'hidden path, relative to the workdir or absolute (repeatable)',
      collect,
      [],
    )
    .addOption(new Option('--network <mode>', 'none | host').choices(['none', 'host']))
    .option(
      '-e, --env <NAME[=VALUE]>',
      'pass NAME from the host, or set it (repeatable)',
      collect,
      [],
    )
    .option('--timeout <dur>', 'e.g. 500ms, 30s, 5m')
    .option('--memory <size>', 'e.g. 256m, 2g')
    .option('--pids <n>', 'most processes at once')
    .option('--cpus <n>', 'CPU share, e.g. 0.5, 2')
    .option('--image <ref>', 'docker image')
    .option('--runtime <name>', 'docker runtime (runc, runsc)')
    .option('--config <file>', 'JSON config with the spec fields')
    .option('--json', 'print one JSON result line on stdout after the run')
    .argument('<command...>', 'the command and its arguments (after --)')
    .passThroughOptions()
    .action(async (command: string[], flags: RunFlags & { json?: boolean }) => {
      setExit(await runCommand(manager, flags, command));
    });
  program
    .command('doctor')
    .description('probe each provider: available or not, why, and what it enforces here')
    .option('--json', 'machine-readable output')
    .action(async (flags: { json?: boolean }) => {
      setExit(await doctorCommand(manager, { ...flags, probe: true }));
    });
  program
    .command('providers')
    .description('list the registered providers and what they can enforce')
    .option('--json', 'machine-readable output')
    .action(async (flags: { json?: boolean }) => {
      setExit(await doctorCommand(manager, { ...flags, probe: false }));
    });
  program
    .command('gc')
    .description('remove docker containers left behind by encage processes that died')
    .option('--json', 'machine-readable output')
    .action(async (flags: { json?: boolean }) => {
      // Loaded on use: the docker client is not needed by `run` (see lazyProvider).
      const { gcCommand } = await import('./gc.js');
      setExit(await gcCommand(flags));
    });
  return program;
}

async function main(argv: string[]): Promise<number> {
  const manager = new Manager({ providers: createDefaultProviders(), cleanupOnSignal: false });
  let exitCode = 0;
  try {
    await buildProgram(manager, (code) => (exitCode = code)).parseAsync(argv);
    return exitCode;
  } catch (error) {
    if (error instanceof CommanderError) {
      return error.exitCode === 0 ? 0 : EXIT_ENCAGE_FAILED;
    }
    const message = isEncageError(error)
      ? error.message
      : error instanceof Error
        ? error.message
        : String(error);
    process.stderr.write(`encage: ${message.split('\n')[0] ?? ''}\n`);
    return EXIT_ENCAGE_FAILED;
  } finally {
    await manager.close();
  }
}

void main(process.argv).then((code) => (process.exitCode = code));
