import { assertSupported } from '../../capabilities.js';
import { BaseInstance } from '../../instance-base.js';
import type { Capabilities, Command, Instance, PrepareOptions, Provider } from '../../provider.js';
import type { Script } from '../../script.js';
import type { Spec } from '../../spec.js';
import { createInstanceId } from '../../util/id.js';
import { createScriptsDir, removeDir } from '../../util/temp-dir.js';

export const NOOP_PROVIDER_NAME = 'noop';

const NOOP_CAPABILITIES: Capabilities = {
  isolation: 0,
  filesystem: false,
  network: false,
  limits: [],
  seccomp: false,
  tty: true,
  killsTree: false,
};

class NoopInstance extends BaseInstance {
  readonly id = createInstanceId();
  readonly provider = NOOP_PROVIDER_NAME;

  constructor(
    private readonly spec: Spec,
    /** Where the scripts were written; the command itself runs in the workdir. */
    readonly root: string,
  ) {
    super(spec.labels);
  }

  protected buildCommand(
    cmd: string,
    args: readonly string[],
    env: Readonly<Record<string, string>>,
  ): Command {
    return { file: cmd, args: [...args], env: { ...env }, cwd: this.spec.workdir };
  }

  protected release(): Promise<void> {
    return removeDir(this.root);
  }
}

/** No isolation at all: the command runs on the host, in the workdir, with exactly `env`. */
export function createNoopProvider(): Provider {
  return {
    name: NOOP_PROVIDER_NAME,
    capabilities: NOOP_CAPABILITIES,
    check: () => Promise.resolve({ available: true, reason: 'runs on the host without isolation' }),
    async prepare(
      spec: Spec,
      scripts: readonly Script[],
      options: PrepareOptions = {},
    ): Promise<Instance> {
      assertSupported(NOOP_PROVIDER_NAME, NOOP_CAPABILITIES, spec);
      const dir = await createScriptsDir(NOOP_PROVIDER_NAME, scripts, options.signal);
      return new NoopInstance(spec, dir);
    },
  };
}
