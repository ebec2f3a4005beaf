import { createHash } from 'node:crypto';
import { createReadStream, statSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { EncageError } from '../../errors.js';
import { EngineError, type Engine } from './engine.js';
import { IMAGE_CACHE_TTL_MS, type ImageResolver } from './image.js';

/** Images built from a Dockerfile are tagged with the hash of their context, and reused. */
export const BUILD_REPOSITORY = 'encage-build';
const BUILD_TIMEOUT_MS = 30 * 60_000;

export type ImageBuilder = (dockerfile: string) => Promise<string>;

/**
 * Builds (or finds) the image of a Dockerfile, tagged `encage-build:<sha256 of context>`.
 * Prepares of one Dockerfile within IMAGE_CACHE_TTL_MS share one pack, hash and build.
 */
export function createImageBuilder(engine: Engine, resolve: ImageResolver): ImageBuilder {
  const cache = new Map<string, { at: number; tag: Promise<string> }>();
  return (dockerfile) => {
    const hit = cache.get(dockerfile);
    if (hit && performance.now() - hit.at < IMAGE_CACHE_TTL_MS) return hit.tag;
    const tag = packAndBuild(engine, resolve, dockerfile);
    cache.set(dockerfile, { at: performance.now(), tag });
    tag.catch(() => cache.delete(dockerfile));
    return tag;
  };
}

async function packAndBuild(
  engine: Engine,
  resolve: ImageResolver,
  dockerfile: string,
): Promise<string> {
  assertFile(dockerfile);
  const dir = await mkdtemp(path.join(tmpdir(), 'encage-docker-build-'));
  try {
    const tarPath = path.join(dir, 'context.tar');
    await packContext(path.dirname(dockerfile), tarPath);
    const hash = createHash('sha256').update(`${path.basename(dockerfile)}\0`);
    for await (const chunk of createReadStream(tarPath)) hash.update(chunk as Buffer);
    const tag = `${BUILD_REPOSITORY}:${hash.digest('hex')}`;
    return await buildUnlessPresent(engine, resolve, tag, dockerfile, tarPath);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function assertFile(dockerfile: string): void {
  let isFile = false;
  try {
    isFile = statSync(dockerfile).isFile();
  } catch {
    // reported below
  }
  if (!isFile) {
    throw new EncageError(
      'INVALID_SPEC',
      `[docker] spec.options.dockerfile: "${dockerfile}" is not a file. Give the path of a Dockerfile (absolute, or relative to the workdir).`,
      { path: 'spec.options.dockerfile' },
    );
  }
}

/** A reproducible tar of the context: sorted names, fixed times and owners, so the hash is stable. */
async function packContext(context: string, tarPath: string): Promise<void> {
  const args = ['--sort=name', '--mtime=@0', '--owner=0', '--group=0', '--numeric-owner'];
  const result = await execa('tar', [...args, '-C', context, '-cf', tarPath, '.'], {
    reject: false,
  });
  if (result.exitCode !== 0) {
    throw new EncageError(
      'PREPARE_FAILED',
      `[docker] cannot pack the build context ${context}: ${String(result.stderr).split('\n')[0] ?? ''}. Check that GNU tar is installed and the folder is readable.`,
      { path: 'spec.options.dockerfile', cause: result },
    );
  }
}

async function buildUnlessPresent(
  engine: Engine,
  resolve: ImageResolver,
  tag: string,
  dockerfile: string,
  tarPath: string,
): Promise<string> {
  try {
    await resolve(tag);
    return tag;
  } catch (error) {
    if (!(error instanceof EncageError && error.code === 'INVALID_SPEC')) throw error;
  }
  let output: string;
  try {
    const response = await engine.request({
      method: 'POST',
      path: '/build',
      query: {
        t: tag,
        dockerfile: path.basename(dockerfile),
        rm: true,
        forcerm: true,
        labels: JSON.stringify({ 'encage.dockerfile': dockerfile }),
      },
      stream: createReadStream(tarPath),
      contentType: 'application/x-tar',
      timeoutMs: BUILD_TIMEOUT_MS,
    });
    output = response.text;
  } catch (error) {
    if (!(error instanceof EngineError) || error.status === undefined) throw error;
    output = JSON.stringify({ error: error.message });
  }
  const failure = output
    .split('\n')
    .flatMap((line) => {
      try {
        const event = JSON.parse(line) as { error?: string };
        return event.error === undefined ? [] : [event.error.trim()];
      } catch {
        return [];
      }
    })
    .at(0);
  if (failure !== undefined) {
    throw new EncageError(
      'PREPARE_FAILED',
      `[docker] building ${dockerfile} failed: ${failure}. Fix the Dockerfile (docker build -f ${dockerfile} ${path.dirname(dockerfile)} shows the whole log).`,
      { path: 'spec.options.dockerfile' },
    );
  }
  return tag;
}
