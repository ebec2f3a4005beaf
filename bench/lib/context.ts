import { createScriptdirProvider, Manager, type Provider, type SandboxSpecInput } from 'encage';
import { createBwrapProvider } from 'encage/providers/bwrap';
import type { BenchSettings } from './types.js';

/** The docker provider is optional: it may not be built yet, or the engine may be down. */
export interface DockerSetup {
  readonly provider: Provider;
  readonly image: string;
  /** `createDockerPool` when the provider offers a warm pool. */
  readonly createPool:
    ((options: { spec: SandboxSpecInput; size?: number }) => WarmPool) | undefined;
  /** Whether the engine has the gVisor runtime registered. */
  readonly runsc: boolean;
}

/** What the bench needs of a docker warm pool: a provider it starts, registers and stops. */
export interface WarmPool extends Provider {
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Resolves once no container is being created or removed. */
  settled?(): Promise<void>;
}

export interface BenchContext {
  readonly settings: BenchSettings;
  readonly root: string;
  readonly manager: Manager;
  /** Why each provider cannot be measured; absent when it can. */
  readonly unavailable: ReadonlyMap<string, string>;
  readonly docker: DockerSetup | undefined;
}

export const DOCKER_IMAGE = 'encage-test/busybox:latest';

/** Builds the Manager the suites share (default options, as a user would) and probes providers. */
export async function createContext(
  settings: BenchSettings,
  root: string,
  docker: DockerSetup | undefined,
  dockerWhy: string | undefined,
): Promise<BenchContext> {
  const providers: Provider[] = [createScriptdirProvider(), createBwrapProvider()];
  if (docker) providers.push(docker.provider);
  const manager = new Manager({ providers });
  const unavailable = new Map<string, string>();
  for (const provider of providers) {
    const availability = await provider.check();
    if (!availability.available) unavailable.set(provider.name, availability.reason);
  }
  if (!docker) unavailable.set('docker', dockerWhy ?? 'the docker provider is not available');
  return { settings, root, manager, unavailable, docker };
}
