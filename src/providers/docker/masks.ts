import { realpathSync, statSync } from 'node:fs';
import type { Spec } from '../../spec.js';
import { ENGINE_PATHS, grantedPaths, isInside } from '../sandbox-paths.js';

/** A host path inside a grant that must not be reachable in the container. */
export interface Mask {
  readonly path: string;
  readonly isDir: boolean;
}

export interface MaskOptions {
  /** The engine's own socket when it is not at a usual place. */
  readonly engineSocket?: string | undefined;
  /**
   * False under gVisor without --host-uds: it refuses host sockets by itself, and cannot mount
   * over one.
   */
  readonly maskSockets: boolean;
}

/**
 * Resolves what to mask: existing `deny` paths (at their real path) and engine sockets, each
 * only when a grant makes it visible; anything else is image content, not host data. A
 * missing deny path is not masked: mounting over it would create it on the host.
 */
export function resolveMasks(spec: Spec, options: MaskOptions): Mask[] {
  const grants = grantedPaths(spec);
  const visible = (target: string): boolean => grants.some((grant) => isInside(target, grant));
  const engine = options.engineSocket === undefined ? [] : [options.engineSocket];
  const masks = new Map<string, Mask>();
  for (const candidate of [...spec.deny, ...ENGINE_PATHS, ...engine]) {
    const found = resolveExisting(candidate);
    if (found === undefined || !visible(found.path)) continue;
    if (found.isSocket && !options.maskSockets) continue;
    masks.set(found.path, { path: found.path, isDir: found.isDir });
  }
  return [...masks.values()];
}

/** The real path (grants are real paths too, so the container sees it there). */
function resolveExisting(candidate: string): (Mask & { isSocket: boolean }) | undefined {
  try {
    const real = realpathSync(candidate);
    const stats = statSync(real);
    return { path: real, isDir: stats.isDirectory(), isSocket: stats.isSocket() };
  } catch {
    return undefined;
  }
}
