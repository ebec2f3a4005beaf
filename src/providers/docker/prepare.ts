import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { abortError, EncageError } from '../../errors.js';
import type { Availability, Capabilities } from '../../provider.js';
import { writeScripts, type Script } from '../../script.js';
import type { Spec } from '../../spec.js';
import { createInstanceId } from '../../util/id.js';
import { createPrivateDir, removeDir } from '../../util/temp-dir.js';
import { scriptsRootFor } from '../sandbox-paths.js';
import { buildCreateBody } from './args.js';
import { createAndStart } from './container.js';
import type { Engine } from './engine.js';
import type { ImageInfo } from './image.js';
import { DockerInstance, type DockerInstanceResources } from './instance.js';
import { resolveMasks, type Mask } from './masks.js';
import { DOCKER_PROVIDER_NAME, type ResolvedDockerOptions } from './options.js';
import { LABEL_DIR, LABEL_INSTANCE, ownerLabels, USER_LABEL_PREFIX } from './owner.js';
import { chooseAccess, grantAccess } from './scripts-dir.js';

/** What docker or runc may put into a command's environment besides the image's own ENV. */
const ENGINE_SET_ENV = ['PATH', 'HOSTNAME', 'HOME', 'TERM'] as const;

export interface PrepareContext {
  readonly engine: Engine;
  readonly dockerPath: string;
  readonly image: ImageInfo;
  readonly options: ResolvedDockerOptions;
  /** False when the runtime refuses host sockets by itself (gVisor without --host-uds). */
  readonly maskSockets: boolean;
  /** Extra `encage.*` container labels (a pool names itself). */
  readonly labels?: Readonly<Record<string, string>> | undefined;
}

/** The engine side of a docker provider or pool: its cached probe and each spec's context. */
export interface DockerBackend {
  readonly capabilities: Capabilities;
  check(): Promise<Availability>;
  /** Refuses what the engine cannot do for the spec, then resolves its image (never pulled). */
  resolveContext(
    spec: Spec,
    options: ResolvedDockerOptions,
    signal: AbortSignal | undefined,
  ): Promise<PrepareContext>;
}

/** A started container and what it was made of, before an instance owns it. */
export interface StartedContainer {
  readonly id: string;
  readonly resources: DockerInstanceResources;
  /** What was masked: the deny paths and engine sockets that existed at create time. */
  readonly masks: readonly Mask[];
}

/**
 * Writes the scripts into a private host dir, then creates and starts one container for the
 * instance. On failure (or abort) the dir and any container are gone before the error leaves.
 */
export async function prepareContainer(
  spec: Spec,
  scripts: readonly Script[],
  context: PrepareContext,
  signal: AbortSignal | undefined,
): Promise<DockerInstance> {
  const { id, resources } = await startContainer(spec, scripts, context, signal);
  return new DockerInstance(id, spec, resources);
}

/** prepareContainer without the instance: the caller owns the container and its dir. */
export async function startContainer(
  spec: Spec,
  scripts: readonly Script[],
  context: PrepareContext,
  signal: AbortSignal | undefined,
): Promise<StartedContainer> {
  const { engine, image, options } = context;
  const id = createInstanceId();
  const container = `encage-${id}`;
  refuseRootGrant(spec);
  const scriptsRoot = scriptsRootFor(spec); // may refuse the spec: before anything exists
  const dir = await createPrivateDir(DOCKER_PROVIDER_NAME);
  try {
    const scriptsDir = path.join(dir, 'scripts');
    const emptyFile = path.join(dir, 'empty');
    await mkdir(scriptsDir, { mode: 0o700 });
    await writeScripts(scriptsDir, scripts);
    const access = chooseAccess(options.uid, options.gid);
    await grantAccess(scriptsDir, access);
    await writeFile(emptyFile, '', { mode: 0o444 });
    const userLabels = Object.entries(spec.labels).map(
      ([k, v]) => [USER_LABEL_PREFIX + k, v] as const,
    );
    const masks = resolveContainerMasks(spec, context);
    const body = buildCreateBody(spec, {
      image: image.id,
      uid: options.uid,
      gid: options.gid,
      runtime: options.runtime,
      scriptsDir,
      scriptsRoot,
      emptyFile,
      masks,
      labels: {
        ...Object.fromEntries(userLabels),
        ...context.labels,
        ...ownerLabels(),
        [LABEL_INSTANCE]: id,
        [LABEL_DIR]: dir,
        'encage.image': image.ref,
      },
    });
    if (signal?.aborted) throw abortError(signal);
    await createAndStart(engine, container, body, signal);
    const resources = {
      engine,
      container,
      dir,
      scriptsDir,
      scriptsRoot,
      clientsFile: path.join(dir, 'clients'),
      dockerPath: context.dockerPath,
      uid: options.uid,
      gid: options.gid,
      access,
      foreignEnv: [...ENGINE_SET_ENV, ...image.envNames],
    };
    return { id, resources, masks };
  } catch (error) {
    await removeDir(dir).catch(() => undefined);
    throw error;
  }
}

/** What a container for `spec` masks right now: existing deny paths and engine sockets. */
export function resolveContainerMasks(spec: Spec, context: PrepareContext): Mask[] {
  const { address } = context.engine;
  const engineSocket = address.kind === 'unix' ? address.socketPath : undefined;
  return resolveMasks(spec, { engineSocket, maskSockets: context.maskSockets });
}

/** Docker cannot bind anything onto a container's "/": say so before creating anything. */
function refuseRootGrant(spec: Spec): void {
  for (const field of ['readOnly', 'readWrite'] as const)
    if (spec[field].includes('/'))
      throw new EncageError(
        'INVALID_SPEC',
        `${field}: docker cannot bind "/" into a container; grant the directories the command needs, or use the bwrap provider`,
        { path: field },
      );
}
