import * as z from 'zod/mini';
import { EncageError } from '../../errors.js';
import { parseSpec, type SandboxSpecInput, type Spec } from '../../spec.js';
import { describeIssue, optionalNonEmpty, safeParse } from '../../validation.js';
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
  size: z._default(z.int().check(z.minimum(1), z.maximum(MAX_POOL_SIZE)), DEFAULT_POOL_SIZE),
  name: z._default(
    z.string().check(
      z.minLength(1),
      z.refine<string>((name) => name !== 'auto', '"auto" is reserved for provider selection'),
    ),
    DOCKER_POOL_NAME,
  ),
  host: optionalNonEmpty(),
  dockerPath: optionalNonEmpty(),
  image: optionalNonEmpty(),
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
  const parsed = safeParse(DockerPoolOptionsSchema, options);
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
