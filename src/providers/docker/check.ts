import { accessSync, constants, statSync } from 'node:fs';
import path from 'node:path';
import type { Availability, EnforcedLimit } from '../../provider.js';
import { ENGINE_API_VERSION, EngineError, type Engine } from './engine.js';

const PING_TIMEOUT_MS = 5_000;

/** What the provider needs to know about the engine, read once per probe. */
export interface EngineInfo {
  readonly address: string;
  readonly version: string;
  readonly apiVersion: string;
  /** Runtime name to its binary and extra arguments (e.g. runsc: ["--network=none"]). */
  readonly runtimes: ReadonlyMap<string, RuntimeInfo>;
  readonly defaultRuntime: string;
  readonly limits: ReadonlySet<EnforcedLimit>;
  /** The docker CLI that runs `docker exec`. */
  readonly dockerPath: string;
}

export interface RuntimeInfo {
  readonly path: string;
  readonly args: readonly string[];
}

export type Probe = Availability & { readonly info?: EngineInfo };

/** gVisor runs the command in its own kernel: processes are not host pids, host sockets are refused. */
export function isGvisor(runtime: RuntimeInfo | undefined): boolean {
  return runtime !== undefined && /(^|\/)runsc$/.test(runtime.path);
}

/** True when a gVisor runtime was started with access to host unix sockets (--host-uds). */
export function allowsHostSockets(runtime: RuntimeInfo): boolean {
  return runtime.args.some((arg) =>
    /^--?(host-uds=(open|create|all)|fsgofer-host-uds(=true)?)$/.test(arg),
  );
}

interface InfoBody {
  ServerVersion?: string;
  OSType?: string;
  Runtimes?: Record<string, { path?: string; runtimeArgs?: string[] }>;
  DefaultRuntime?: string;
  MemoryLimit?: boolean;
  PidsLimit?: boolean;
  CpuCfsQuota?: boolean;
}

/** Pings the engine, reads its runtimes and limits, and finds the docker CLI; says how to fix. */
export async function probeEngine(engine: Engine, dockerPath: string): Promise<Probe> {
  const where = engine.address.url;
  let apiVersion: string;
  let body: InfoBody;
  try {
    const ping = await engine.request({
      path: '/_ping',
      unversioned: true,
      timeoutMs: PING_TIMEOUT_MS,
    });
    apiVersion = String(ping.headers['api-version'] ?? '');
    if (apiVersion !== '' && compareVersions(apiVersion, ENGINE_API_VERSION) < 0) {
      return {
        available: false,
        reason: `the Docker engine at ${where} speaks API ${apiVersion}; encage needs ${ENGINE_API_VERSION} (Docker 20.10) or newer. Upgrade the engine`,
      };
    }
    body = await engine.json<InfoBody>({ path: '/info', timeoutMs: PING_TIMEOUT_MS });
  } catch (error) {
    return { available: false, reason: explainUnreachable(where, error) };
  }
  if (body.OSType !== undefined && body.OSType !== 'linux') {
    return {
      available: false,
      reason: `the Docker engine at ${where} runs ${body.OSType} containers; encage needs Linux containers`,
    };
  }
  const cli = findExecutable(dockerPath);
  if (cli === undefined) {
    return {
      available: false,
      reason: `the docker CLI ("${dockerPath}") was not found; encage runs commands with "docker exec". Install the docker client (apt-get install docker.io or docker-ce-cli) or pass dockerPath`,
    };
  }
  const runtimes = new Map(
    Object.entries(body.Runtimes ?? {}).map(([name, runtime]) => [
      name,
      { path: runtime.path ?? name, args: runtime.runtimeArgs ?? [] },
    ]),
  );
  const limits = new Set<EnforcedLimit>();
  if (body.MemoryLimit !== false) limits.add('memoryBytes');
  if (body.PidsLimit !== false) limits.add('pids');
  if (body.CpuCfsQuota !== false) limits.add('cpus');
  const info: EngineInfo = {
    address: where,
    version: body.ServerVersion ?? 'unknown',
    apiVersion,
    runtimes,
    defaultRuntime: body.DefaultRuntime ?? 'runc',
    limits,
    dockerPath: cli,
  };
  return {
    available: true,
    reason: `Docker Engine ${info.version} (API ${apiVersion || '?'}) at ${where}; runtimes: ${[...runtimes.keys()].join(', ')} (default ${info.defaultRuntime})`,
    details: {
      engine: where,
      runtimes: [...runtimes.keys()].join(', '),
      limits: [...limits].join(', ') || 'none (cgroup controllers missing)',
      cli,
    },
    info,
  };
}

function explainUnreachable(where: string, error: unknown): string {
  if (!(error instanceof EngineError))
    return `probing the Docker engine at ${where} failed: ${String(error)}`;
  if (error.status !== undefined)
    return `the Docker engine at ${where} answered ${error.status}: ${error.message}`;
  switch (error.errno) {
    case 'ENOENT':
      return `no Docker engine socket at ${where}. Start dockerd (systemctl start docker, or scripts/provision.sh) or set DOCKER_HOST to the engine's address`;
    case 'EACCES':
    case 'EPERM':
      return `permission denied on ${where}. Add your user to the "docker" group (then log in again) or run as root`;
    case 'ECONNREFUSED':
      return `nothing listens at ${where} (connection refused). Start dockerd or set DOCKER_HOST to the engine's address`;
    case 'ETIMEDOUT':
      return `the Docker engine at ${where} did not answer within ${PING_TIMEOUT_MS} ms. Check that dockerd is healthy (docker info) or set DOCKER_HOST`;
    default:
      return `cannot reach the Docker engine at ${where} (${error.errno ?? error.message}). Start dockerd or set DOCKER_HOST`;
  }
}

/** Resolves a command name on PATH (or checks a path); undefined when not executable. */
export function findExecutable(name: string): string | undefined {
  const candidates = name.includes('/')
    ? [path.resolve(name)]
    : (process.env.PATH ?? '')
        .split(':')
        .filter(Boolean)
        .map((dir) => path.join(dir, name));
  return candidates.find((file) => {
    try {
      accessSync(file, constants.X_OK);
      return statSync(file).isFile();
    } catch {
      return false;
    }
  });
}

function compareVersions(a: string, b: string): number {
  const [aMajor = 0, aMinor = 0] = a.split('.').map(Number);
  const [bMajor = 0, bMinor = 0] = b.split('.').map(Number);
  return aMajor - bMajor || aMinor - bMinor;
}
