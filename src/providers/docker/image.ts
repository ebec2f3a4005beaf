import { EncageError } from '../../errors.js';
import { EngineError, type Engine } from './engine.js';

/** Prepares in a burst share one inspect; a removed or rebuilt image is noticed after this. */
export const IMAGE_CACHE_TTL_MS = 5_000;

/** What the provider needs from an image: its id (pinned for create) and the env names it sets. */
export interface ImageInfo {
  readonly ref: string;
  readonly id: string;
  readonly envNames: readonly string[];
}

interface InspectBody {
  Id: string;
  Config?: { Env?: string[] | null } | null;
}

/** Shared by concurrent prepares, so it takes no AbortSignal: callers race it against theirs. */
export type ImageResolver = (ref: string) => Promise<ImageInfo>;

/** Inspects images with a short positive cache; a missing image is never cached. */
export function createImageResolver(engine: Engine): ImageResolver {
  const cache = new Map<string, { at: number; info: Promise<ImageInfo> }>();
  return (ref) => {
    const hit = cache.get(ref);
    if (hit && performance.now() - hit.at < IMAGE_CACHE_TTL_MS) return hit.info;
    const info = inspectImage(engine, ref);
    cache.set(ref, { at: performance.now(), info });
    info.catch(() => cache.delete(ref));
    return info;
  };
}

/** GET /images/{ref}/json; INVALID_SPEC naming the image and how to get it when it is missing. */
export async function inspectImage(engine: Engine, ref: string): Promise<ImageInfo> {
  try {
    const body = await engine.json<InspectBody>({
      path: `/images/${encodeURIComponent(ref)}/json`,
    });
    const envNames = (body.Config?.Env ?? []).map((entry) => entry.split('=')[0] ?? entry);
    return { ref, id: body.Id, envNames };
  } catch (error) {
    if (error instanceof EngineError && error.status === 404) {
      throw new EncageError(
        'INVALID_SPEC',
        `[docker] spec.options.image: image "${ref}" is not on the engine at ${engine.address.url}, and encage never pulls. Build it (docker build -t ${ref} .), load it (docker load -i image.tar) or pull it yourself first, or give spec.options.dockerfile.`,
        { path: 'spec.options.image', cause: error },
      );
    }
    throw error;
  }
}
