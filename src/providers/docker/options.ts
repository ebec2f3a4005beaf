import { statSync } from 'node:fs';
import path from 'node:path';
import * as z from 'zod/mini';
import { EncageError } from '../../errors.js';
import { parseProviderOptions, type Spec } from '../../spec.js';
import { optionalNonEmpty } from '../../validation.js';
import { isGvisor, type EngineInfo } from './check.js';

import { DOCKER_PROVIDER_NAME } from './capabilities.js';

export { DOCKER_PROVIDER_NAME };
const MAX_ID = 2 ** 31 - 1;

/** `spec.options` of the docker provider. Unknown keys are refused. */
export const DockerSpecOptionsSchema = z.strictObject({
  /** An image already on the engine (nothing is pulled). */
  image: optionalNonEmpty(),
  /** A Dockerfile (absolute, or relative to the workdir); its folder is the build context. */
  dockerfile: optionalNonEmpty(),
  /** An OCI runtime the engine lists, e.g. `runsc` for gVisor. */
  runtime: optionalNonEmpty(),
  /** Numeric `uid:gid` inside the container. Default: the uid:gid of this process. */
  user: z.optional(
    z.string().check(
      z.regex(/^\d+:\d+$/, 'must be a numeric "uid:gid", e.g. "1000:1000"'),
      z.refine<string>(
        (value) => value.split(':').every((part) => Number(part) <= MAX_ID),
        'uid and gid must be below 2^31',
      ),
    ),
  ),
});

export type DockerSpecOptions = z.output<typeof DockerSpecOptionsSchema>;

/** Options after defaults: exactly one image source and a parsed user. */
export interface ResolvedDockerOptions {
  readonly source: { kind: 'image'; image: string } | { kind: 'dockerfile'; file: string };
  readonly runtime: string | undefined;
  readonly uid: number;
  readonly gid: number;
}

/** Validates `spec.options` (zod, then cross-field rules); throws INVALID_SPEC naming the field. */
export function parseDockerOptions(spec: Spec, defaultImage?: string): ResolvedDockerOptions {
  // A pool outlives every spec (start/stop, containers made ahead): an object, not a spec option.
  if (Object.hasOwn(spec.options, 'pool')) {
    throw new EncageError(
      'INVALID_SPEC',
      '[docker] spec.options.pool: a warm pool is not a spec option. Create one with createDockerPool({ spec, size }) from "encage/providers/docker", start() it, register it with the Manager and name it in spec.provider.',
      { path: 'spec.options.pool' },
    );
  }
  const options = parseProviderOptions(DOCKER_PROVIDER_NAME, DockerSpecOptionsSchema, spec.options);
  const invalid = (field: string, message: string): never => {
    throw new EncageError('INVALID_SPEC', `[docker] spec.options.${field}: ${message}`, {
      path: `spec.options.${field}`,
    });
  };
  if (options.image !== undefined && options.dockerfile !== undefined)
    invalid('dockerfile', 'give either an image or a dockerfile, not both');
  const image = options.image ?? (options.dockerfile === undefined ? defaultImage : undefined);
  const source =
    options.dockerfile !== undefined
      ? { kind: 'dockerfile' as const, file: path.resolve(spec.workdir, options.dockerfile) }
      : image !== undefined
        ? { kind: 'image' as const, image }
        : invalid(
            'image',
            'required: name an image present on the engine (e.g. "alpine:3.20"; nothing is pulled), or give spec.options.dockerfile',
          );
  const [uid, gid] = (options.user ?? defaultUser(spec.workdir)).split(':').map(Number);
  return {
    source,
    runtime: options.runtime,
    uid: uid ?? 0,
    gid: gid ?? 0,
  };
}

/** `nobody`: the container user when neither the caller nor the workdir's owner is non-root. */
export const FALLBACK_USER = '65534:65534';

/**
 * Never root by default: the caller's uid:gid; when encage runs as root, the workdir owner's (so
 * files it writes keep their owner); when that is root too, nobody (65534), which can write the
 * workdir only if it is made writable for it.
 */
export function defaultUser(workdir: string): string {
  const uid = process.getuid?.() ?? 0;
  if (uid !== 0) return `${uid}:${process.getgid?.() ?? uid}`;
  const owner = statSync(workdir);
  return owner.uid !== 0 ? `${owner.uid}:${owner.gid}` : FALLBACK_USER;
}

/** Refuses what this engine cannot do for the spec: an unknown runtime, limits, host network. */
export function assertEngineSupports(
  spec: Spec,
  options: ResolvedDockerOptions,
  info: EngineInfo,
): void {
  const where = `the engine at ${info.address}`;
  if (options.runtime !== undefined && !info.runtimes.has(options.runtime)) {
    throw new EncageError(
      'INVALID_SPEC',
      `[docker] spec.options.runtime: "${options.runtime}" is not a runtime of ${where} (it lists: ${[...info.runtimes.keys()].join(', ')}). Choose a listed one, or register it under "runtimes" in /etc/docker/daemon.json and reload dockerd.`,
      { path: 'spec.options.runtime' },
    );
  }
  const runtimeName = options.runtime ?? info.defaultRuntime;
  const runtime = info.runtimes.get(runtimeName);
  if (spec.network === 'host' && runtime?.args.includes('--network=none')) {
    throw new EncageError(
      'UNSUPPORTED_SPEC',
      `[docker] spec.network: runtime "${runtimeName}" runs with --network=none on ${where}, so network "host" cannot be given. Use network "none" or another runtime.`,
      { path: 'spec.network' },
    );
  }
  if (spec.limits.pids !== undefined && isGvisor(runtime)) {
    throw new EncageError(
      'UNSUPPORTED_SPEC',
      `[docker] spec.limits.pids: under gVisor (runtime "${runtimeName}") the command's processes live inside the sandbox kernel, so a pids limit would count gVisor's own threads instead. Remove the limit (memoryBytes bounds a fork bomb there) or use runc.`,
      { path: 'spec.limits.pids' },
    );
  }
  const missing = (['memoryBytes', 'pids', 'cpus'] as const).find(
    (limit) => spec.limits[limit] !== undefined && !info.limits.has(limit),
  );
  if (missing !== undefined) {
    throw new EncageError(
      'UNSUPPORTED_SPEC',
      `[docker] spec.limits.${missing}: ${where} cannot enforce it (its cgroup controller is missing). Remove the limit or enable the controller.`,
      { path: `spec.limits.${missing}` },
    );
  }
}
