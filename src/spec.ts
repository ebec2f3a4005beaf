import { realpathSync, statSync } from 'node:fs';
import path from 'node:path';
import * as z from 'zod';
import { ENV_NAME_PATTERN } from './entrypoint.js';
import { EncageError } from './errors.js';

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
  return z.string().transform((value, ctx) => {
    if (value.includes('\0')) {
      ctx.addIssue({ code: 'custom', message: 'contains a NUL byte' });
      return z.NEVER;
    }
    if (!path.isAbsolute(value)) {
      ctx.addIssue({ code: 'custom', message: `"${value}" is relative; give an absolute path` });
      return z.NEVER;
    }
    try {
      const real = realpathSync(value);
      if (kind === 'directory' && !statSync(real).isDirectory()) {
        ctx.addIssue({ code: 'custom', message: `"${value}" is not a directory` });
        return z.NEVER;
      }
      return real;
    } catch {
      ctx.addIssue({
        code: 'custom',
        message: `"${value}" does not exist; create it or fix the path`,
      });
      return z.NEVER;
    }
  });
}

const denyPath = z
  .string()
  .min(1)
  .refine((value) => !value.includes('\0'), 'contains a NUL byte');

export const LimitsSchema = z.strictObject({
  timeoutMs: z.number().int().positive().optional(),
  memoryBytes: z
    .number()
    .int()
    .min(MIN_MEMORY_BYTES, `must be at least ${MIN_MEMORY_BYTES} bytes (4m)`)
    .optional(),
  pids: z.number().int().positive().optional(),
  cpus: z.number().positive().optional(),
  outputBytes: z.number().int().positive().optional(),
});

const EnvSchema = z.record(
  z
    .string()
    .regex(
      ENV_NAME_PATTERN,
      'is not a valid variable name (letters, digits, "_"; not starting with a digit)',
    ),
  z.string().refine((value) => !value.includes('\0'), 'contains a NUL byte'),
);

/** The sandbox spec as callers write it; `parseSpec` resolves defaults and paths. */
export const SandboxSpecSchema = z.strictObject({
  provider: z.string().min(1).default('auto'),
  workdir: existingPath('directory').optional(),
  readOnly: z.array(existingPath('any')).default([]),
  readWrite: z.array(existingPath('any')).default([]),
  deny: z.array(denyPath).default([]),
  network: z.enum(['none', 'host']).default('none'),
  env: EnvSchema.optional(),
  limits: LimitsSchema.default({}),
  options: z.record(z.string(), z.unknown()).default({}),
  labels: z.record(z.string(), z.string()).default({}),
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

/** Formats the first zod issue as `spec.<field>: <message>`. */
export function describeIssue(
  error: z.ZodError,
  prefix: string,
): { field: string; message: string } {
  const issue = error.issues[0];
  const field = [prefix, ...(issue?.path ?? []).map(String)].join('.');
  let message = issue?.message ?? 'invalid';
  if (issue?.code === 'invalid_key') message = issue.issues[0]?.message ?? message;
  if (issue?.code === 'unrecognized_keys')
    message = `unknown field(s) ${issue.keys.map((k) => `"${k}"`).join(', ')}; remove them`;
  return { field, message };
}

/** Validates a spec once at the public boundary; throws INVALID_SPEC naming the field. */
export function parseSpec(input: unknown = {}): Spec {
  const parsed = SandboxSpecSchema.safeParse(input ?? {});
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
export function parseProviderOptions<T extends z.ZodType>(
  provider: string,
  schema: T,
  options: unknown,
): z.output<T> {
  const parsed = schema.safeParse(options ?? {});
  if (!parsed.success) {
    const { field, message } = describeIssue(parsed.error, 'spec.options');
    throw new EncageError('INVALID_SPEC', `[${provider}] ${field}: ${message}`, {
      path: field,
      cause: parsed.error,
    });
  }
  return parsed.data;
}
