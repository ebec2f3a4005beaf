import { SANDBOX_HOME, type Spec } from '../../spec.js';
import { scriptsRootFor } from '../sandbox-paths.js';
import { buildCreateBody } from './args.js';
import type { ResolvedDockerOptions } from './options.js';
import { USER_LABEL_PREFIX } from './owner.js';

/** One part of a spec fixed at container creation, under the spec path that names it. */
interface ShapeField {
  readonly path: string;
  readonly value: string | number | undefined;
  /** Env values and labels stay out of messages. */
  readonly quiet?: boolean;
}

/**
 * What a container is made of, as far as the spec decides it: everything but what applies per
 * command (`env` apart from HOME, which places the private home) or is the Manager's
 * (`limits.timeoutMs`, `limits.outputBytes`).
 */
export interface PoolShape {
  readonly fields: readonly ShapeField[];
  /** The create body the spec leads to: catches a difference `fields` does not name. */
  readonly body: string;
}

/** The named fields in spec order, then the create body without per-command parts. */
export function describeShape(spec: Spec, options: ResolvedDockerOptions): PoolShape {
  const { source, uid, gid } = options;
  const home = spec.env.HOME ?? SANDBOX_HOME;
  const labels = Object.entries(spec.labels).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const fields: ShapeField[] = [
    { path: 'spec.workdir', value: spec.workdir },
    { path: 'spec.readOnly', value: sortedList(spec.readOnly) },
    { path: 'spec.readWrite', value: sortedList(spec.readWrite) },
    { path: 'spec.deny', value: sortedList(spec.deny) },
    { path: 'spec.network', value: spec.network },
    { path: 'spec.env.HOME', value: home, quiet: true },
    { path: 'spec.limits.memoryBytes', value: spec.limits.memoryBytes },
    { path: 'spec.limits.pids', value: spec.limits.pids },
    { path: 'spec.limits.cpus', value: spec.limits.cpus },
    { path: 'spec.options.image', value: source.kind === 'image' ? source.image : undefined },
    {
      path: 'spec.options.dockerfile',
      value: source.kind === 'dockerfile' ? source.file : undefined,
    },
    { path: 'spec.options.runtime', value: options.runtime },
    { path: 'spec.options.user', value: `${uid}:${gid}` },
    { path: 'spec.labels', value: JSON.stringify(labels), quiet: true },
  ];
  const canonical = {
    ...spec,
    readOnly: uniqueSorted(spec.readOnly),
    readWrite: uniqueSorted(spec.readWrite),
    deny: uniqueSorted(spec.deny),
    env: { HOME: home },
  };
  const body = buildCreateBody(canonical, {
    image: JSON.stringify(source),
    uid,
    gid,
    runtime: options.runtime,
    scriptsDir: '',
    scriptsRoot: scriptsRootFor(canonical),
    emptyFile: '',
    masks: [],
    labels: Object.fromEntries(labels.map(([k, v]) => [USER_LABEL_PREFIX + k, v])),
  });
  return { fields, body: JSON.stringify(body) };
}

/** The first field where `candidate` differs from the pool's shape, with both values if shown. */
export function findDifference(
  pool: PoolShape,
  candidate: PoolShape,
): { path: string; detail: string } | undefined {
  for (const [index, field] of pool.fields.entries()) {
    const other = candidate.fields[index];
    if (other === undefined || other.value === field.value) continue;
    const detail = field.quiet ? '' : ` (pool: ${show(field.value)}; spec: ${show(other.value)})`;
    return { path: field.path, detail };
  }
  return pool.body === candidate.body ? undefined : { path: 'spec', detail: '' };
}

function uniqueSorted(paths: readonly string[]): string[] {
  return [...new Set(paths)].sort();
}

function sortedList(paths: readonly string[]): string {
  return uniqueSorted(paths).join(', ');
}

function show(value: string | number | undefined): string {
  return value === undefined || value === '' ? 'none' : String(value);
}
