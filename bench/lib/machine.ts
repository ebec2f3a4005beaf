import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import type { MachineValue } from './types.js';

function quiet(file: string, args: string[]): string | null {
  try {
    return execFileSync(file, args, {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
      timeout: 10_000,
    }).trim();
  } catch {
    return null;
  }
}

function distro(): string | null {
  try {
    const text = readFileSync('/etc/os-release', 'utf8');
    return /^PRETTY_NAME="?([^"\n]*)"?$/m.exec(text)?.[1] ?? null;
  } catch {
    return null;
  }
}

/** What the numbers were measured on: they mean little without it. */
export function describeMachine(): Record<string, MachineValue> {
  const cpus = os.cpus();
  return {
    hostname: os.hostname(),
    os: distro(),
    kernel: os.release(),
    arch: process.arch,
    cpuModel: cpus[0]?.model ?? null,
    cpus: cpus.length,
    memoryGiB: Math.round((os.totalmem() / 1024 ** 3) * 10) / 10,
    node: process.version,
    bwrap: quiet('bwrap', ['--version']),
    docker: quiet('docker', ['version', '--format', '{{.Server.Version}}']),
    dockerRuntimes: quiet('docker', [
      'info',
      '--format',
      '{{range $name, $_ := .Runtimes}}{{$name}} {{end}}',
    ]),
    gitCommit: quiet('git', ['rev-parse', '--short=12', 'HEAD']),
    gitDirty: (quiet('git', ['status', '--porcelain', '--untracked-files=no']) ?? '') !== '',
  };
}
