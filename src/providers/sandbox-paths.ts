import path from 'node:path';
import { EncageError } from '../errors.js';
import type { Spec } from '../spec.js';

/**
 * Container engine sockets and their state dirs: hidden whenever a grant would show them. An
 * engine socket is root on the host, and a read-only bind does not stop `connect()`.
 */
export const ENGINE_PATHS = [
  '/var/run/docker.sock',
  '/run/docker.sock',
  '/run/docker',
  '/run/containerd',
  '/run/podman',
] as const;

/**
 * Where an instance's scripts dir may appear inside the sandbox, in order of preference. The
 * first one outside every grant is used: a mount point inside a granted host dir would have to
 * be created in that host dir (a leftover on the host, or a failure when the grant is
 * read-only), and the grant would cover the scripts. `/tmp` is private unless granted itself.
 */
export const SCRIPTS_ROOT_CANDIDATES = ['/run/encage', '/.encage', '/tmp/.encage'] as const;

/** True when `child` is `parent` or below it. */
export function isInside(child: string, parent: string): boolean {
  const relative = path.relative(parent, child);
  return relative === '' || (!relative.startsWith('..') && !path.isAbsolute(relative));
}

/** The host paths the sandbox sees: the workdir and the grants. */
export function grantedPaths(spec: Spec): string[] {
  return [spec.workdir, ...spec.readOnly, ...spec.readWrite];
}

/** The scripts root for a spec (see SCRIPTS_ROOT_CANDIDATES); INVALID_SPEC if grants cover all. */
export function scriptsRootFor(spec: Spec): string {
  const grants = grantedPaths(spec);
  const found = SCRIPTS_ROOT_CANDIDATES.find(
    (candidate) =>
      !grants.some(
        (grant) =>
          isInside(candidate, grant) &&
          // '/' granted still leaves /tmp private (mounted over the grant).
          !(grant === '/' && candidate.startsWith('/tmp/')),
      ),
  );
  if (found !== undefined) return found;
  throw new EncageError(
    'INVALID_SPEC',
    `readOnly/readWrite: the grants cover every place the sandbox's scripts can go (${SCRIPTS_ROOT_CANDIDATES.join(', ')}); grant narrower paths than "/run", "/" and "/tmp" together`,
    { path: 'readWrite' },
  );
}
