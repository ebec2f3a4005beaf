import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { EncageError } from '../../errors.js';
import type { Spec } from '../../spec.js';
import { EngineError, type Engine } from './engine.js';
import { DockerInstance, killPids, type DockerInstanceResources } from './instance.js';

/** How long a SIGKILLed container init may take to exit before the engine is asked instead. */
const HOST_KILL_WAIT_MS = 2_000;
const HOST_KILL_POLL_MS = 1;

/** A container's init as a host process: its pid, and its start time (against pid reuse). */
export interface HostInit {
  readonly pid: number;
  readonly startTime: string;
}

/**
 * The host process of a running container's init, when this process can see and signal it. The
 * engine may report a pid of another pid namespace (rootless docker) or host (tcp://): only a
 * process in the container's own cgroup is taken.
 */
export function findHostInit(pid: number, containerId: string): HostInit | undefined {
  if (!Number.isInteger(pid) || pid <= 0 || containerId.length < 12) return undefined;
  try {
    if (!readFileSync(`/proc/${pid}/cgroup`, 'utf8').includes(containerId)) return undefined;
    process.kill(pid, 0);
  } catch {
    return undefined;
  }
  const startTime = readStat(pid)?.startTime;
  return startTime === undefined ? undefined : { pid, startTime };
}

/** True while the init runs; a zombie init means its whole pid namespace is gone already. */
export function isAlive(init: HostInit): boolean {
  const stat = readStat(init.pid);
  return stat !== undefined && stat.state !== 'Z' && stat.startTime === init.startTime;
}

/**
 * SIGKILLs everything in the container and resolves once nothing of it runs. From the host that
 * takes a signal and a few ms: the kernel kills the rest of a pid namespace before its init
 * exits (and with gVisor the init is the sandbox kernel itself). The engine's kill waits about
 * 80 ms longer, so it is the fallback.
 */
export async function killContainer(
  engine: Engine,
  container: string,
  init: HostInit | undefined,
): Promise<void> {
  if (init !== undefined && signalInit(init)) {
    const deadline = performance.now() + HOST_KILL_WAIT_MS;
    while (isAlive(init) && performance.now() < deadline) await sleep(HOST_KILL_POLL_MS);
    if (!isAlive(init)) return;
  }
  try {
    await engine.request({
      method: 'POST',
      path: `/containers/${container}/kill`,
      query: { signal: 'KILL' },
    });
  } catch (error) {
    // 404: removed; 409: not running. Either way nothing runs in it any more.
    if (error instanceof EngineError && (error.status === 404 || error.status === 409)) return;
    throw error;
  }
}

export interface PoolHooks {
  /** The pool's provider name. */
  readonly provider: string;
  readonly init: HostInit | undefined;
  /** Called once nothing runs in the container: the pool removes it and its dir. */
  readonly released: () => void;
}

/**
 * An instance on a container from a pool. Teardown kills everything in the container and hands
 * the container to the pool, which removes it in the background: the run does not wait for the
 * engine's cleanup, and the container is never used again.
 */
export class PooledInstance extends DockerInstance {
  override readonly provider: string;

  constructor(
    id: string,
    spec: Spec,
    resources: DockerInstanceResources,
    private readonly hooks: PoolHooks,
  ) {
    super(id, spec, resources);
    this.provider = hooks.provider;
  }

  protected override async release(): Promise<void> {
    const { engine, container, clientsFile } = this.resources;
    this.stopWatching();
    try {
      await killContainer(engine, container, this.hooks.init);
    } catch (error) {
      throw new EncageError(
        'TEARDOWN_FAILED',
        `[${this.provider}] cannot stop container ${container} at ${engine.address.url}: ${(error as Error).message}. Remove it with "docker rm -f ${container}", or stop the pool once the engine answers.`,
        { cause: error },
      );
    }
    try {
      // A few bytes: read sync, it costs less than a thread-pool round trip.
      killPids(readFileSync(clientsFile, 'utf8'), container);
    } catch {
      // no command was started
    }
    this.hooks.released();
  }
}

/** SIGKILLs the init; false when it is not ours to signal (the engine must do it). */
function signalInit(init: HostInit): boolean {
  try {
    if (isAlive(init)) process.kill(init.pid, 'SIGKILL');
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

function readStat(pid: number): { state: string; startTime: string } | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces and parens: count fields after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const [state, startTime] = [fields[0], fields[19]];
    return state === undefined || startTime === undefined ? undefined : { state, startTime };
  } catch {
    return undefined;
  }
}
