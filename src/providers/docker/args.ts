import path from 'node:path';
import { SANDBOX_HOME, type Spec } from '../../spec.js';
import { grantedPaths, isInside } from '../sandbox-paths.js';
import type { Mask } from './masks.js';

/**
 * The container's main process only keeps it alive for `docker exec`; images need `sleep`.
 * docker-init (HostConfig.Init) runs as PID 1 above it and reaps orphans of the commands.
 */
export const KEEPALIVE_ENTRYPOINT = ['sleep'] as const;
export const KEEPALIVE_SECONDS = '2147483647';
/** Size of the private /tmp and HOME when no memory limit bounds them. */
export const DEFAULT_TMPFS_BYTES = 1024 ** 3;
/** docker-init and the keep-alive `sleep` count against the pids limit too. */
export const PIDS_OVERHEAD = 2;
const NANO_CPUS_PER_CPU = 1e9;
const SANDBOX_HOSTNAME = 'encage';
const TMPFS_FLAGS = 'rw,nosuid,nodev';
const MASK_DIR_TMPFS = 'ro,nosuid,nodev,noexec,mode=755,size=4k';

export interface CreateContext {
  /** The image id (pinned: the image that was inspected is the one that runs). */
  readonly image: string;
  readonly uid: number;
  readonly gid: number;
  readonly runtime: string | undefined;
  /** Host dir bound read-only at `scriptsRoot`. */
  readonly scriptsDir: string;
  /** Where the scripts appear in the container (`scriptsRootFor(spec)`). */
  readonly scriptsRoot: string;
  /** An empty read-only host file bound over masked files. */
  readonly emptyFile: string;
  readonly masks: readonly Mask[];
  /** Complete container labels (encage.* and user labels). */
  readonly labels: Readonly<Record<string, string>>;
}

type MountPlan =
  { kind: 'bind'; source: string; readOnly: boolean } | { kind: 'tmpfs'; options: string };

/**
 * The body of POST /containers/create for a spec. Every mount is keyed by its target so that
 * a later, more specific entry replaces an earlier one at the same path (docker refuses
 * duplicates); the engine mounts shallow targets before deep ones, so masks land on grants.
 */
export function buildCreateBody(spec: Spec, context: CreateContext): Record<string, unknown> {
  const plan = new Map<string, MountPlan>();
  const tmpfsBytes = spec.limits.memoryBytes ?? DEFAULT_TMPFS_BYTES;
  const owner = `uid=${context.uid},gid=${context.gid}`;
  plan.set('/tmp', { kind: 'tmpfs', options: `${TMPFS_FLAGS},mode=1777,size=${tmpfsBytes}` });
  const home = homeDir(spec);
  if (home !== undefined)
    plan.set(home, {
      kind: 'tmpfs',
      options: `${TMPFS_FLAGS},mode=700,${owner},size=${tmpfsBytes}`,
    });
  for (const grant of spec.readOnly)
    plan.set(grant, { kind: 'bind', source: grant, readOnly: true });
  for (const grant of spec.readWrite)
    plan.set(grant, { kind: 'bind', source: grant, readOnly: false });
  plan.set(spec.workdir, { kind: 'bind', source: spec.workdir, readOnly: false });
  plan.set(context.scriptsRoot, { kind: 'bind', source: context.scriptsDir, readOnly: true });
  for (const mask of context.masks) {
    plan.set(
      mask.path,
      mask.isDir
        ? { kind: 'tmpfs', options: MASK_DIR_TMPFS }
        : { kind: 'bind', source: context.emptyFile, readOnly: true },
    );
  }
  const mounts: Record<string, unknown>[] = [];
  const tmpfs: Record<string, string> = {};
  for (const [target, entry] of plan) {
    if (entry.kind === 'tmpfs') tmpfs[target] = entry.options;
    else
      mounts.push({
        Type: 'bind',
        Source: entry.source,
        Target: target,
        ReadOnly: entry.readOnly,
        BindOptions: { Propagation: 'rprivate' },
      });
  }
  const { memoryBytes, pids, cpus } = spec.limits;
  return {
    Image: context.image,
    Entrypoint: [...KEEPALIVE_ENTRYPOINT],
    Cmd: [KEEPALIVE_SECONDS],
    Env: Object.entries(spec.env).map(([name, value]) => `${name}=${value}`),
    WorkingDir: spec.workdir,
    User: `${context.uid}:${context.gid}`,
    Hostname: SANDBOX_HOSTNAME,
    Labels: context.labels,
    AttachStdin: false,
    AttachStdout: false,
    AttachStderr: false,
    Tty: false,
    OpenStdin: false,
    HostConfig: {
      Mounts: mounts,
      Tmpfs: tmpfs,
      ReadonlyRootfs: true,
      NetworkMode: spec.network === 'host' ? 'host' : 'none',
      CapDrop: ['ALL'],
      SecurityOpt: ['no-new-privileges'],
      Privileged: false,
      IpcMode: 'private',
      Init: true,
      AutoRemove: false,
      LogConfig: { Type: 'none', Config: {} },
      ...(context.runtime === undefined ? {} : { Runtime: context.runtime }),
      ...(memoryBytes === undefined ? {} : { Memory: memoryBytes, MemorySwap: memoryBytes }),
      ...(pids === undefined ? {} : { PidsLimit: pids + PIDS_OVERHEAD }),
      ...(cpus === undefined ? {} : { NanoCpus: Math.round(cpus * NANO_CPUS_PER_CPU) }),
    },
  };
}

/** The private HOME: its own tmpfs unless a grant already shows that host dir. */
function homeDir(spec: Spec): string | undefined {
  const home = spec.env.HOME ?? SANDBOX_HOME;
  if (!path.isAbsolute(home) || path.normalize(home) === '/') return undefined;
  const normalized = path.normalize(home);
  return grantedPaths(spec).some((grant) => isInside(normalized, grant)) ? undefined : normalized;
}
