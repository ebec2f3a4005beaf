import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { abortError } from '../../errors.js';
import { writeScripts, type Script } from '../../script.js';
import type { Spec } from '../../spec.js';
import { createInstanceId } from '../../util/id.js';
import { createPrivateDir, removeDir } from '../../util/temp-dir.js';
import { buildCreateBody } from './args.js';
import { createAndStart } from './container.js';
import type { Engine } from './engine.js';
import type { ImageInfo } from './image.js';
import { DockerInstance } from './instance.js';
import { resolveMasks } from './masks.js';
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
  const { engine, image, options } = context;
  const id = createInstanceId();
  const container = `encage-${id}`;
  const dir = await createPrivateDir(DOCKER_PROVIDER_NAME);
  try {
    const scriptsDir = path.join(dir, 'scripts');
    const emptyFile = path.join(dir, 'empty');
    await mkdir(scriptsDir, { mode: 0o700 });
    await writeScripts(scriptsDir, scripts);
    const access = chooseAccess(options.uid, options.gid);
    await grantAccess(scriptsDir, access);
    await writeFile(emptyFile, '', { mode: 0o444 });
    const engineSocket = engine.address.kind === 'unix' ? engine.address.socketPath : undefined;
    const userLabels = Object.entries(spec.labels).map(
      ([k, v]) => [USER_LABEL_PREFIX + k, v] as const,
    );
    const body = buildCreateBody(spec, {
      image: image.id,
      uid: options.uid,
      gid: options.gid,
      runtime: options.runtime,
      scriptsDir,
      emptyFile,
      masks: resolveMasks(spec, { engineSocket, maskSockets: context.maskSockets }),
      labels: {
        ...Object.fromEntries(userLabels),
        ...ownerLabels(),
        [LABEL_INSTANCE]: id,
        [LABEL_DIR]: dir,
        'encage.image': image.ref,
      },
    });
    if (signal?.aborted) throw abortError(signal);
    await createAndStart(engine, container, body, signal);
    return new DockerInstance(id, spec, {
      engine,
      container,
      dir,
      scriptsDir,
      clientsFile: path.join(dir, 'clients'),
      dockerPath: context.dockerPath,
      uid: options.uid,
      gid: options.gid,
      access,
      foreignEnv: [...ENGINE_SET_ENV, ...image.envNames],
    });
  } catch (error) {
    await removeDir(dir).catch(() => undefined);
    throw error;
  }
}
