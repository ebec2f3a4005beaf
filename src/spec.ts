import { realpathSync, statSync } from 'node:fs';
import path from 'node:path';
import * as z from 'zod/mini';
import { ENV_NAME_PATTERN } from './entrypoint.js';
import { EncageError } from './errors.js';
import { describeIssue, safeParse } from './validation.js';

/** PATH inside the sandbox unless `env` says otherwise. */
export const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
/** The private, empty, writable home that isolating providers create inside the sandbox. */
export const SANDBOX_HOME = '/home/sandbox';
const MIN_MEMORY_BYTES = 4 * 1024 * 1024;

/** The environment used when a spec gives none: nothing is inherited from the host. */
export function defaultEnv(hostTerm = process.env.TERM): Record<string, string> {
  return { PATH: DEFAULT_PATH, HOME: SANDBOX_HOME, LANG: 'C.UTF-8', TERM: hostTerm ?? 'dumb' };
}

function existingPath(kind: 'directory' | 'any') {
  return z.pipe(
    z.string(),
    z.transform((value: string, ctx) => {
      const fail = (message: string): never => {
        ctx.issues.push({ code: 'custom', message, input: value });
        return z.NEVER;
      };
      if (value.includes('\0')) return fail('contains a NUL byte');
      if (!path.isAbsolute(value)) return fail(`"${value}" is relative; give an absolute path`);
      let real: string;
      let rightKind: boolean;
      try {
        real = realpathSync(value);
        rightKind = kind !== 'directory' || statSync(real).isDirectory();
      } catch {
        return fail(`"${value}" does not exist; create it or fix the path`);
      }
      return rightKind ? real : fail(`"${value}" is not a directory`);
    }),
  );
}

const noNul = z.refine<string>((value) => !value.includes('\0'), 'contains a NUL byte');
const denyPath = z.string().check(z.minLength(1), noNul);
const positiveInt = () => z.optional(z.int().check(z.positive()));

export const LimitsSchema = z.strictObject({
  timeoutMs: positiveInt(),
  memoryBytes: z.optional(
    z.int().check(z.minimum(MIN_MEMORY_BYTES, `must be at least ${MIN_MEMORY_BYTES} bytes (4m)`)),
  ),
  pids: positiveInt(),
  cpus: z.optional(z.number().check(z.positive())),
  outputBytes: positiveInt(),
});

const EnvSchema = z.record(
  z
    .string()
    .check(
      z.regex(
        ENV_NAME_PATTERN,
        'is not a valid variable name (letters, digits, "_"; not starting with a digit)',
      ),
    ),
  z.string().check(noNul),
);

/** The sandbox spec as callers write it; `parseSpec` resolves defaults and paths. */
export const SandboxSpecSchema = z.strictObject({
  provider: z._default(z.string().check(z.minLength(1)), 'auto'),
  workdir: z.optional(existingPath('directory')),
  readOnly: z._default(z.array(existingPath('any')), []),
  readWrite: z._default(z.array(existingPath('any')), []),
  deny: z._default(z.array(denyPath), []),
  network: z._default(z.enum(['none', 'host']), 'none'),
  env: z.optional(EnvSchema),
  limits: z._default(LimitsSchema, {}),
  options: z._default(z.record(z.string(), z.unknown()), {}),
  labels: z._default(z.record(z.string(), z.string()), {}),
});

export type SandboxSpecInput = z.input<typeof SandboxSpecSchema>;
export type Limits = z.output<typeof LimitsSchema>;

/** A validated spec: absolute real paths, defaults filled in. Internal code takes only this. */
export interface Spec {
  provider: string;
  workdir: string;
  readOnly: string[];
  readWrite: string[];
  /** Absolute paths; relative ones in the input are taken relative to `workdir`. */
  deny: string[];
  network: 'none' | 'host';
  env: Record<string, string>;
  limits: Limits;
  options: Record<string, unknown>;
  labels: Record<string, string>;
}

/** Validates a spec once at the public boundary; throws INVALID_SPEC naming the field. */
export function parseSpec(input: unknown = {}): Spec {
  const parsed = safeParse(SandboxSpecSchema, input ?? {});
  if (!parsed.success) {
    const { field, message } = describeIssue(parsed.error, 'spec');
    throw new EncageError('INVALID_SPEC', `${field}: ${message}`, {
      path: field,
      cause: parsed.error,
    });
  }
  const data = parsed.data;
  const workdir = data.workdir ?? realpathSync(process.cwd());
  return {
    provider: data.provider,
    workdir,
    readOnly: data.readOnly,
    readWrite: data.readWrite,
    deny: data.deny.map((entry) => path.resolve(workdir, entry)),
    network: data.network,
    env: data.env ?? defaultEnv(),
    limits: data.limits,
    options: data.options,
    labels: data.labels,
  };
}

/** Throws UNSUPPORTED_SPEC for provider options the provider does not know. */
export function parseProviderOptions<T extends z.core.$ZodType>(
  provider: string,
  schema: T,
  options: unknown,
): z.output<T> {
  const parsed = safeParse(schema, options ?? {});
  if (!parsed.success) {
    const { field, message } = describeIssue(parsed.error, 'spec.options');
    throw new EncageError('INVALID_SPEC', `[${provider}] ${field}: ${message}`, {
      path: field,
      cause: parsed.error,
    });
  }
  return parsed.data;
}
