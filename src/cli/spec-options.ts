import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { ENV_NAME_PATTERN } from '../entrypoint.js';
import { EncageError } from '../errors.js';
import { defaultEnv, type SandboxSpecInput } from '../spec.js';
import { parseDuration, parsePositiveInt, parsePositiveNumber, parseSize } from './units.js';

/** The `encage run` flags that shape the spec. */
export interface RunFlags {
  provider?: string;
  workdir?: string;
  ro: string[];
  rw: string[];
  deny: string[];
  network?: string;
  env: string[];
  timeout?: string;
  memory?: string;
  pids?: string;
  cpus?: string;
  image?: string;
  runtime?: string;
  config?: string;
}

/** Reads `--config` (if any) and lays the flags over it. Relative host paths are taken from the cwd. */
export async function buildSpecInput(
  flags: RunFlags,
  hostEnv: NodeJS.ProcessEnv = process.env,
): Promise<SandboxSpecInput> {
  const base = flags.config ? await readConfig(flags.config) : {};
  const spec: Record<string, unknown> = { ...base };
  const fromCwd = (value: string): string => path.resolve(value);
  if (flags.provider !== undefined) spec.provider = flags.provider;
  if (flags.workdir !== undefined) spec.workdir = fromCwd(flags.workdir);
  if (flags.ro.length) spec.readOnly = [...asArray(base.readOnly), ...flags.ro.map(fromCwd)];
  if (flags.rw.length) spec.readWrite = [...asArray(base.readWrite), ...flags.rw.map(fromCwd)];
  if (flags.deny.length) spec.deny = [...asArray(base.deny), ...flags.deny];
  if (flags.network !== undefined) spec.network = flags.network;
  if (flags.env.length)
    spec.env = applyEnvFlags(asRecord(base.env) ?? defaultEnv(hostEnv.TERM), flags.env, hostEnv);
  const limits: Record<string, unknown> = { ...asRecord(base.limits) };
  if (flags.timeout !== undefined) limits.timeoutMs = parseDuration(flags.timeout, '--timeout');
  if (flags.memory !== undefined) limits.memoryBytes = parseSize(flags.memory, '--memory');
  if (flags.pids !== undefined) limits.pids = parsePositiveInt(flags.pids, '--pids');
  if (flags.cpus !== undefined) limits.cpus = parsePositiveNumber(flags.cpus, '--cpus');
  if (Object.keys(limits).length) spec.limits = limits;
  const options: Record<string, unknown> = { ...asRecord(base.options) };
  if (flags.image !== undefined) options.image = flags.image;
  if (flags.runtime !== undefined) options.runtime = flags.runtime;
  if (Object.keys(options).length) spec.options = options;
  return spec;
}

/** `-e NAME` copies NAME from the host; `-e NAME=VALUE` sets it. */
export function applyEnvFlags(
  base: Record<string, unknown>,
  entries: readonly string[],
  hostEnv: NodeJS.ProcessEnv,
): Record<string, unknown> {
  const env = { ...base };
  for (const entry of entries) {
    const eq = entry.indexOf('=');
    const name = eq === -1 ? entry : entry.slice(0, eq);
    if (!ENV_NAME_PATTERN.test(name)) {
      throw new EncageError(
        'INVALID_ARGUMENT',
        `--env: "${name}" is not a valid variable name. Use NAME or NAME=VALUE.`,
        { path: '--env' },
      );
    }
    if (eq === -1) {
      const value = hostEnv[name];
      if (value === undefined) {
        throw new EncageError(
          'INVALID_ARGUMENT',
          `--env ${name}: not set on the host. Set it, or give a value with ${name}=VALUE.`,
          { path: '--env' },
        );
      }
      env[name] = value;
    } else {
      env[name] = entry.slice(eq + 1);
    }
  }
  return env;
}

async function readConfig(file: string): Promise<Record<string, unknown>> {
  let text: string;
  try {
    text = await fsp.readFile(file, 'utf8');
  } catch (error) {
    throw new EncageError(
      'INVALID_ARGUMENT',
      `--config ${file}: cannot read it (${(error as NodeJS.ErrnoException).code ?? 'error'}). Check the path.`,
      { path: '--config', cause: error },
    );
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new EncageError(
      'INVALID_SPEC',
      `--config ${file}: not valid JSON (${(error as Error).message}).`,
      { path: '--config', cause: error },
    );
  }
  const record = asRecord(parsed);
  if (!record)
    throw new EncageError(
      'INVALID_SPEC',
      `--config ${file}: must hold a JSON object with the spec's fields.`,
      { path: '--config' },
    );
  // Relative paths in a config file are taken from the file's folder, so it can travel with a project.
  const dir = path.dirname(path.resolve(file));
  if (typeof record.workdir === 'string') record.workdir = path.resolve(dir, record.workdir);
  for (const key of ['readOnly', 'readWrite'] as const) {
    if (Array.isArray(record[key]))
      record[key] = record[key].map((entry: unknown) =>
        typeof entry === 'string' ? path.resolve(dir, entry) : entry,
      );
  }
  return record;
}

function asRecord(value: unknown): Record<string, unknown> | undefined {
  return value !== null && typeof value === 'object' && !Array.isArray(value)
    ? { ...(value as Record<string, unknown>) }
    : undefined;
}

function asArray(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}
