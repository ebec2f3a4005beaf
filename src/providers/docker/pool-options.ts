import * as z from 'zod';
import { EncageError } from '../../errors.js';
import { describeIssue, parseSpec, type SandboxSpecInput, type Spec } from '../../spec.js';
import type { DockerProviderOptions } from './index.js';
import { parseDockerOptions, type ResolvedDockerOptions } from './options.js';

export const DOCKER_POOL_NAME = 'docker-pool';
/** Warm containers kept ready unless `size` says otherwise. */
export const DEFAULT_POOL_SIZE = 2;
/** Each warm container holds a few MB of engine state and a sleeping process: keep pools small. */
export const MAX_POOL_SIZE = 64;

export interface DockerPoolOptions extends DockerProviderOptions {
  /**
   * The one sandbox shape the pool serves, validated like any spec (its `provider` is not used:
   * name the pool in the specs you run). `env`, `limits.timeoutMs` and `limits.outputBytes` of
   * the specs it runs may differ from it; everything else must match.
   */
  readonly spec: SandboxSpecInput;
  /** Containers kept warm (default 2, at most 64). */
  readonly size?: number;
  /** The provider name to register and put in `spec.provider` (default `docker-pool`). */
  readonly name?: string;
}

const DockerPoolOptionsSchema = z.strictObject({
  spec: z.unknown(),
  size: z.number().int().min(1).max(MAX_POOL_SIZE).default(DEFAULT_POOL_SIZE),
  name: z
    .string()
    .min(1)
    .refine((name) => name !== 'auto', '"auto" is reserved for provider selection')
    .default(DOCKER_POOL_NAME),
  host: z.string().min(1).optional(),
  dockerPath: z.string().min(1).optional(),
  image: z.string().min(1).optional(),
});

/** Pool options after validation: the shape as a parsed spec and its docker options. */
export interface ParsedPoolOptions {
  readonly name: string;
  readonly size: number;
  readonly image: string | undefined;
  readonly spec: Spec;
  readonly resolved: ResolvedDockerOptions;
}

/** Validates the options and the shape once; INVALID_ARGUMENT or INVALID_SPEC naming the field. */
export function parsePoolOptions(options: DockerPoolOptions): ParsedPoolOptions {
  const parsed = DockerPoolOptionsSchema.safeParse(options);
  if (!parsed.success) {
    const { field, message } = describeIssue(parsed.error, 'options');
    throw new EncageError('INVALID_ARGUMENT', `[${DOCKER_POOL_NAME}] ${field}: ${message}`, {
      path: field,
      cause: parsed.error,
    });
  }
  const { name, size, image } = parsed.data;
  const spec = parseSpec(parsed.data.spec);
  return { name, size, image, spec, resolved: parseDockerOptions(spec, image) };
}
