import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  Manager,
  createScriptdirProvider,
  type Provider,
  type SandboxSpecInput,
} from '../../../src/index.js';
import { createBwrapProvider } from '../../../src/providers/bwrap/index.js';
import { BWRAP_ENABLED } from '../../helpers/backends.js';
import { createMarker, usePrivateTmp } from './scope.js';

export const SANDBOX_PATH = '/usr/bin:/bin';

/** The real providers these tests drive: scriptdir always, bwrap where it works (or CI). */
export function realProviders(): Provider[] {
  return [createScriptdirProvider(), ...(BWRAP_ENABLED ? [createBwrapProvider()] : [])];
}

export const REAL_PROVIDER_NAMES = realProviders().map((provider) => provider.name);

/** A Manager over the real providers, a private TMPDIR, a workdir and a marker, for one suite. */
export interface Bench {
  manager: Manager;
  workdir: string;
  tmp: string;
  marker: string;
  spec: (provider: string, extra?: Partial<SandboxSpecInput>) => SandboxSpecInput;
  close: () => Promise<void>;
}

export async function openBench(label: string, providers = realProviders()): Promise<Bench> {
  const workdir = await mkdtemp(path.join(tmpdir(), `rel-${label}-workdir-`));
  const tmp = usePrivateTmp(label);
  const marker = createMarker(label);
  const manager = new Manager({ providers, cleanupOnSignal: false });
  return {
    manager,
    workdir,
    tmp: tmp.dir,
    marker,
    spec: (provider, extra = {}) => ({
      provider,
      workdir,
      env: { PATH: SANDBOX_PATH, ENCAGE_REL_MARKER: marker },
      ...extra,
    }),
    close: async () => {
      await manager.close();
      tmp.restore();
      await rm(workdir, { recursive: true, force: true });
    },
  };
}
