import type { Spec } from '../../spec.js';
import { removeDir } from '../../util/temp-dir.js';
import { removeContainer } from './container.js';
import type { Engine } from './engine.js';
import type { DockerInstanceResources } from './instance.js';
import type { Mask } from './masks.js';
import { findHostInit, isAlive, type HostInit } from './pool-instance.js';
import { startContainer, type PrepareContext } from './prepare.js';

/** Names the pool on its containers (besides the owner labels `encage gc` reads). */
export const LABEL_POOL = 'encage.pool';

/** A started container of the pool's shape, waiting to be taken. */
export interface Warm {
  readonly id: string;
  readonly resources: DockerInstanceResources;
  /** What it masks: the deny paths and engine sockets that existed when it was made. */
  readonly masks: readonly Mask[];
  readonly imageId: string;
  readonly init: HostInit | undefined;
}

/** Creates and starts one container of the pool's shape, with no scripts yet. */
export async function startWarm(
  spec: Spec,
  context: PrepareContext,
  pool: string,
  signal: AbortSignal | undefined,
): Promise<Warm> {
  const labels = { ...context.labels, [LABEL_POOL]: pool };
  const { id, resources, masks } = await startContainer(spec, [], { ...context, labels }, signal);
  return {
    id,
    // It was created with the pool's env: unset that too, so a command gets exactly its own.
    resources: { ...resources, foreignEnv: [...resources.foreignEnv, ...Object.keys(spec.env)] },
    masks,
    imageId: context.image.id,
    init: await findInit(resources.engine, resources.container),
  };
}

/**
 * Whether a warm container still serves a spec resolved to `context` and `masks` now: not when
 * the image was rebuilt under its name, a deny path appeared or went since, or it died.
 */
export function isFit(warm: Warm, context: PrepareContext, masks: readonly Mask[]): boolean {
  if (warm.imageId !== context.image.id || maskKey(warm.masks) !== maskKey(masks)) return false;
  return warm.init === undefined || isAlive(warm.init);
}

/** Removes the container, then its host dir; throws when the engine did not remove it. */
export async function removeWarm(resources: DockerInstanceResources): Promise<void> {
  await removeContainer(resources.engine, resources.container);
  await removeDir(resources.dir).catch(() => undefined);
}

/** The container's init on this host, when it can be killed from here (see findHostInit). */
async function findInit(engine: Engine, container: string): Promise<HostInit | undefined> {
  if (engine.address.kind !== 'unix') return undefined;
  try {
    const body = await engine.json<{ Id: string; State?: { Pid?: number } }>({
      path: `/containers/${container}/json`,
    });
    return findHostInit(body.State?.Pid ?? 0, body.Id);
  } catch {
    return undefined;
  }
}

function maskKey(masks: readonly Mask[]): string {
  return masks
    .map((mask) => `${mask.isDir ? 'd' : 'f'}${mask.path}`)
    .sort()
    .join('\0');
}
