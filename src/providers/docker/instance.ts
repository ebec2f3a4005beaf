import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { ENV_NAME_PATTERN } from '../../entrypoint.js';
import { EncageError } from '../../errors.js';
import { BaseInstance } from '../../instance-base.js';
import type { Command } from '../../provider.js';
import type { Spec } from '../../spec.js';
import { removeDir } from '../../util/temp-dir.js';
import { KEEPALIVE_MARKER, MAIN_SCRIPT } from './args.js';
import { removeContainer, startError, toEncageError, waitUntilStopped } from './container.js';
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
/**
 * Host side of a one-shot container's only command: records its pid, then runs
 * `docker start -a -i`, which creates nothing more (as fast as `docker run`). That client ends
 * with status 0 when it gets a signal, without waiting for the container, so it runs in the
 * background (stdin passed on explicitly) and the wrapper turns each signal it gets into
 * `docker kill -s`, then waits for the container's own status. With a terminal on stdin and
 * stdout, the container idles instead (marker file, see args.ts) and the command runs through
 * `docker exec -i -t`. Constant text: every value arrives as a positional argument.
 */
const ONE_SHOT_WRAPPER = [
  'echo $$ >> "$1" || exit 125; d=$2; k=$3; c=$4; shift 4',
  'if [ -t 0 ] && [ -t 1 ]; then : > "$k" || exit 125; "$d" start "$c" > /dev/null || exit 125; exec "$d" exec -i -t "$@"; fi',
  'exec 3<&0; "$d" start -a -i "$c" <&3 3<&- & p=$!; exec 3<&-',
  ...['HUP', 'INT', 'QUIT', 'TERM', 'USR1', 'USR2'].map(
    (signal) => `trap '"$d" kill -s ${signal} "$c" > /dev/null 2>&1' ${signal}`,
  ),
  // `wait` returns early (status > 128) when a trapped signal arrives: wait again.
  'while :; do wait $p; r=$?; kill -0 $p 2> /dev/null || exit $r; done',
].join('\n');
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
  /** How the container runs commands (see CreateContext.main). */
  readonly main: 'oneShot' | 'keepalive';
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
    // One-shot: `docker start -a` ends with its container by itself (and the container is not
    // running yet, so a wait for "not running" would return at once).
    if (resources.main === 'oneShot') return;
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
    const oneShot = this.resources.main === 'oneShot';
    if (oneShot && this.#execs > 0) {
      throw new EncageError(
        'INVALID_ARGUMENT',
        `[docker] instance ${this.id} runs one command (its container's main process) and already has it; prepare another instance for the next command, or use a warm pool (createDockerPool), whose instances run theirs with docker exec`,
      );
    }
    this.#execs += 1;
    const innerPath = oneShot ? MAIN_SCRIPT : `.encage/exec-${this.#execs}.sh`;
    writeExecScript(scriptsDir, innerPath, { cmd, args, env, unset }, access);
    const execArgs = [
      '-u',
      `${uid}:${gid}`,
      '-w',
      this.spec.workdir,
      container,
      SHELL,
      `${this.resources.scriptsRoot}/${innerPath}`,
    ];
    return {
      file: SHELL,
      args: oneShot
        ? [
            '-c',
            ONE_SHOT_WRAPPER,
            'encage-docker',
            clientsFile,
            dockerPath,
            path.join(scriptsDir, KEEPALIVE_MARKER),
            container,
            ...execArgs,
          ]
        : ['-c', WRAPPER, 'encage-docker', clientsFile, dockerPath, ...execArgs],
      // A pinned API version spares the CLI its version negotiation round trip.
      env: {
        DOCKER_HOST: this.resources.engine.address.url,
        DOCKER_API_VERSION: ENGINE_API_VERSION,
      },
      cwd: this.spec.workdir,
    };
  }

  /** A one-shot container that the engine could not start (bad mount, no /bin/sh, runtime). */
  async startFailure(stderr: string): Promise<Error | undefined> {
    if (this.resources.main !== 'oneShot') return undefined;
    const recorded = await startError(this.resources.engine, this.resources.container);
    if (recorded === undefined) return undefined;
    // The engine answered `docker start` with the reason; the client printed it.
    const printed = /^Error response from daemon: (.*)$/m.exec(stderr)?.[1];
    const why = recorded || printed || 'the engine did not start it (see the error output)';
    return toEncageError(this.resources.engine, new Error(why), 'cannot start the container');
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
