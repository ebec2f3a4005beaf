import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { ENV_NAME_PATTERN } from '../../entrypoint.js';
import { EncageError } from '../../errors.js';
import { BaseInstance } from '../../instance-base.js';
import type { Command } from '../../provider.js';
import type { Spec } from '../../spec.js';
import { removeDir } from '../../util/temp-dir.js';
import { removeContainer, waitUntilStopped } from './container.js';
import { ENGINE_API_VERSION, type Engine } from './engine.js';
import { DOCKER_PROVIDER_NAME } from './options.js';
import { writeExecScript, type ScriptAccess } from './scripts-dir.js';

/**
 * Host side of every command: records its pid (teardown kills a client the engine leaves
 * hanging, as gVisor does when a container dies under `docker exec`), then becomes
 * `docker exec`, with `-t` only when stdin and stdout are terminals. Constant text: every value
 * arrives as a positional argument.
 */
const WRAPPER =
  'echo $$ >> "$1" || exit 125; d=$2; shift 2; ' +
  'if [ -t 0 ] && [ -t 1 ]; then exec "$d" exec -i -t "$@"; fi; exec "$d" exec -i "$@"';
const SHELL = '/bin/sh';

export interface DockerInstanceResources {
  readonly engine: Engine;
  /** The container's name, `encage-<id>`. */
  readonly container: string;
  /** The private host dir holding everything below. */
  readonly dir: string;
  readonly scriptsDir: string;
  /** Where scriptsDir appears in the container. */
  readonly scriptsRoot: string;
  /** Pids of `docker exec` clients started from this instance's commands. */
  readonly clientsFile: string;
  readonly dockerPath: string;
  readonly uid: number;
  readonly gid: number;
  readonly access: ScriptAccess;
  /** Env names the engine (PATH, HOSTNAME, HOME, TERM) or image may add; unset unless given. */
  readonly foreignEnv: readonly string[];
}

export class DockerInstance extends BaseInstance {
  readonly provider: string = DOCKER_PROVIDER_NAME;
  readonly root: string;
  readonly #watch = new AbortController();
  #execs = 0;

  constructor(
    readonly id: string,
    private readonly spec: Spec,
    protected readonly resources: DockerInstanceResources,
  ) {
    super(spec.labels);
    this.root = resources.scriptsRoot;
    // A container that dies under a running command (docker kill, engine restart) ends it too.
    waitUntilStopped(resources.engine, resources.container, this.#watch.signal).then(
      () => this.state === 'ready' && killClients(resources.clientsFile, resources.container),
      () => undefined,
    );
  }

  protected buildCommand(
    cmd: string,
    args: readonly string[],
    env: Readonly<Record<string, string>>,
  ): Command {
    const { scriptsDir, access, clientsFile, dockerPath, container, uid, gid } = this.resources;
    const unset = [...new Set([...this.resources.foreignEnv, ...Object.keys(this.spec.env)])]
      .filter((name) => !(name in env) && ENV_NAME_PATTERN.test(name))
      .sort();
    this.#execs += 1;
    const innerPath = `.encage/exec-${this.#execs}.sh`;
    writeExecScript(scriptsDir, innerPath, { cmd, args, env, unset }, access);
    return {
      file: SHELL,
      args: [
        '-c',
        WRAPPER,
        'encage-docker',
        clientsFile,
        dockerPath,
        '-u',
        `${uid}:${gid}`,
        '-w',
        this.spec.workdir,
        container,
        SHELL,
        `${this.resources.scriptsRoot}/${innerPath}`,
      ],
      // A pinned API version spares the CLI its version negotiation round trip.
      env: {
        DOCKER_HOST: this.resources.engine.address.url,
        DOCKER_API_VERSION: ENGINE_API_VERSION,
      },
      cwd: this.spec.workdir,
    };
  }

  /** Stops following the container: its end is ours from here on. */
  protected stopWatching(): void {
    this.#watch.abort();
  }

  protected async release(): Promise<void> {
    const { engine, container, clientsFile, dir } = this.resources;
    this.stopWatching();
    let failure: unknown;
    try {
      await removeContainer(engine, container);
    } catch (error) {
      failure = error;
    }
    await readFile(clientsFile, 'utf8')
      .then((pids) => killPids(pids, container))
      .catch(() => undefined);
    await removeDir(dir);
    if (failure !== undefined) {
      throw new EncageError(
        'TEARDOWN_FAILED',
        `[docker] cannot remove container ${container} at ${engine.address.url}: ${(failure as Error).message}. Remove it with "docker rm -f ${container}" or run "encage gc" once the engine answers.`,
        { cause: failure },
      );
    }
  }
}

function killClients(clientsFile: string, container: string): void {
  try {
    killPids(readFileSync(clientsFile, 'utf8'), container);
  } catch {
    // no command was started
  }
}

/** SIGKILLs recorded clients that still run; a pid reused by another process is left alone. */
export function killPids(pids: string, container: string): void {
  for (const line of pids.split('\n')) {
    const pid = Number(line.trim());
    if (!Number.isInteger(pid) || pid <= 0) continue;
    try {
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      if (cmdline.includes(container)) process.kill(pid, 'SIGKILL');
    } catch {
      // gone already
    }
  }
}
