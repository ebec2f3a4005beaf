#!/usr/bin/env node
import { createDefaultProviders } from '../default-providers.js';
import { isEncageError } from '../errors.js';
import { Manager } from '../manager/manager.js';
import { EXIT_ENCAGE_FAILED } from '../manager/result.js';
import { parseCommandLine, type Invocation } from './args.js';
import { doctorCommand } from './doctor.js';
import { writeOut } from './output.js';
import { runCommand } from './run.js';

async function dispatch(manager: Manager, invocation: Invocation): Promise<number> {
  switch (invocation.kind) {
    case 'help':
      writeOut(invocation.text);
      return 0;
    case 'usage':
      process.stderr.write(invocation.text);
      return EXIT_ENCAGE_FAILED;
    case 'run':
      return runCommand(manager, invocation.flags, invocation.command);
    case 'doctor':
      return doctorCommand(manager, { json: invocation.json, probe: true });
    case 'providers':
      return doctorCommand(manager, { json: invocation.json, probe: false });
    case 'gc': {
      // Loaded on use: the docker client is not needed by `run` (see lazyProvider).
      const { gcCommand } = await import('./gc.js');
      return gcCommand({ json: invocation.json });
    }
  }
}

async function main(argv: string[]): Promise<number> {
  const manager = new Manager({ providers: createDefaultProviders(), cleanupOnSignal: false });
  try {
    return await dispatch(manager, parseCommandLine(argv.slice(2)));
  } catch (error) {
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
