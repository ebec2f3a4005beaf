import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import * as z from 'zod/mini';
import { assertSupported } from '../../capabilities.js';
import type { Capabilities, Instance, PrepareOptions, Provider } from '../../provider.js';
import { writeScripts, type Script } from '../../script.js';
import { parseProviderOptions, type Spec } from '../../spec.js';
import { abortError } from '../../errors.js';
import { createInstanceId } from '../../util/id.js';
import { createPrivateDir, removeDir } from '../../util/temp-dir.js';
import { scriptsRootFor } from '../sandbox-paths.js';
import { buildBwrapArgs } from './args.js';
import { createCgroup, detectCgroups, type CgroupMode } from './cgroups.js';
import { checkBwrap } from './check.js';
import { BwrapInstance } from './instance.js';
import { readHostLayout, type HostEntry } from './layout.js';
import { buildSeccompFilter } from './seccomp.js';

export const BWRAP_PROVIDER_NAME = 'bwrap';

export interface BwrapProviderOptions {
  /** The bwrap binary (default: `bwrap` from PATH). */
  readonly bwrapPath?: string;
  /** cgroup mount point (default `/sys/fs/cgroup`). */
  readonly cgroupRoot?: string;
}

const BWRAP_CAPABILITIES: Capabilities = {
  isolation: 3,
  filesystem: true,
  network: true,
  limits: ['memoryBytes', 'pids', 'cpus'],
  seccomp: true,
  tty: true,
  killsTree: true,
};

/** bwrap takes no per-spec options; unknown keys are refused. */
const BwrapSpecOptionsSchema = z.strictObject({});

/** Linux namespaces via bubblewrap, a seccomp filter, and cgroup limits. */
export function createBwrapProvider(options: BwrapProviderOptions = {}): Provider {
  const bwrapPath = options.bwrapPath ?? 'bwrap';
  let host: Promise<{ layout: HostEntry[]; cgroups: CgroupMode; filter: Buffer }> | undefined;
  // Read synchronously (a few stat calls): check() then starts its probe in the same tick.
  const readHost = () =>
    (host ??= Promise.resolve().then(() => ({
      layout: readHostLayout(),
      cgroups: detectCgroups(options.cgroupRoot),
      filter: buildSeccompFilter(),
    })));
  let availability: ReturnType<Provider['check']> | undefined;
  return {
    name: BWRAP_PROVIDER_NAME,
    capabilities: BWRAP_CAPABILITIES,
    check() {
      availability ??= readHost().then(({ cgroups }) => checkBwrap(bwrapPath, cgroups));
      return availability;
    },
    async prepare(
      spec: Spec,
      scripts: readonly Script[],
      prepareOptions: PrepareOptions = {},
    ): Promise<Instance> {
      assertSupported(BWRAP_PROVIDER_NAME, BWRAP_CAPABILITIES, spec);
      parseProviderOptions(BWRAP_PROVIDER_NAME, BwrapSpecOptionsSchema, spec.options);
      const { signal } = prepareOptions;
      const { layout, cgroups, filter } = await readHost();
      if (signal?.aborted) throw abortError(signal);
      const scriptsRoot = scriptsRootFor(spec); // may refuse the spec: before anything exists
      const id = createInstanceId();
      const dir = await createPrivateDir(BWRAP_PROVIDER_NAME);
      try {
        // Sync: a dir and a 2 KiB file in our own temp dir cost less than two thread-pool round trips.
        const scriptsDir = path.join(dir, 'scripts');
        mkdirSync(scriptsDir, { mode: 0o700 });
        await writeScripts(scriptsDir, scripts);
        const filterPath = path.join(dir, 'seccomp.bpf');
        writeFileSync(filterPath, filter, { mode: 0o600 });
        const bwrapArgs = buildBwrapArgs(spec, {
          layout,
          scriptsDir,
          scriptsRoot,
          home: spec.env.HOME,
        });
        if (signal?.aborted) throw abortError(signal);
        // Last step: nothing after it can fail, so a created cgroup always lands in the instance.
        const cgroup = await createCgroup(cgroups, id, spec.limits);
        return new BwrapInstance(id, spec, {
          dir,
          scriptsRoot,
          filterPath,
          bwrapPath,
          bwrapArgs,
          cgroup,
        });
      } catch (error) {
        await removeDir(dir);
        throw error;
      }
    },
  };
}
