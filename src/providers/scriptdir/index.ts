import { closeSync, constants, fchmodSync, mkdirSync, openSync, writeSync } from 'node:fs';
import path from 'node:path';
import { assertSupported } from '../../capabilities.js';
import { ENTRYPOINT_PATH, entrypointScript } from '../../entrypoint.js';
import { BaseInstance } from '../../instance-base.js';
import type { Capabilities, Command, Instance, PrepareOptions, Provider } from '../../provider.js';
import type { Script } from '../../script.js';
import type { Spec } from '../../spec.js';
import { createInstanceId } from '../../util/id.js';
import { createScriptsDir, removeDir } from '../../util/temp-dir.js';

export const SCRIPTDIR_PROVIDER_NAME = 'scriptdir';
const SHELL = '/bin/sh';

const SCRIPTDIR_CAPABILITIES: Capabilities = {
  isolation: 0,
  filesystem: false,
  network: false,
  limits: [],
  seccomp: false,
  tty: true,
  killsTree: false,
};

class ScriptdirInstance extends BaseInstance {
  readonly id = createInstanceId();
  readonly provider = SCRIPTDIR_PROVIDER_NAME;

  constructor(
    private readonly spec: Spec,
    readonly root: string,
    private entrypoint: string | undefined,
  ) {
    super(spec.labels);
  }

  protected buildCommand(
    cmd: string,
    args: readonly string[],
    env: Readonly<Record<string, string>>,
  ): Command {
    const script = entrypointScript(cmd, args, env);
    const target = path.join(this.root, ENTRYPOINT_PATH);
    // The Manager already wrote this exact entrypoint at prepare; rewrite only for another command.
    if (script.contents !== this.entrypoint) {
      writeFileNoFollow(target, String(script.contents), script.mode);
      this.entrypoint = String(script.contents);
    }
    // The entrypoint exports env itself; the shell starts with nothing but what it sets (PWD).
    return { file: SHELL, args: [target], env: {}, cwd: this.spec.workdir };
  }

  protected release(): Promise<void> {
    return removeDir(this.root);
  }
}

function writeFileNoFollow(file: string, contents: string, mode: number): void {
  mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const fd = openSync(
    file,
    constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_NOFOLLOW,
    mode,
  );
  try {
    writeSync(fd, contents);
    fchmodSync(fd, mode);
  } finally {
    closeSync(fd);
  }
}

/** No isolation: scripts go to a private 0700 temp dir and the command runs via `/bin/sh`. */
export function createScriptdirProvider(): Provider {
  return {
    name: SCRIPTDIR_PROVIDER_NAME,
    capabilities: SCRIPTDIR_CAPABILITIES,
    check: () =>
      Promise.resolve({ available: true, reason: `runs ${SHELL} on the host without isolation` }),
    async prepare(
      spec: Spec,
      scripts: readonly Script[],
      options: PrepareOptions = {},
    ): Promise<Instance> {
      assertSupported(SCRIPTDIR_PROVIDER_NAME, SCRIPTDIR_CAPABILITIES, spec);
      const dir = await createScriptsDir(SCRIPTDIR_PROVIDER_NAME, scripts, options.signal);
      const entrypoint = scripts.find((script) => script.innerPath === ENTRYPOINT_PATH)?.contents;
      return new ScriptdirInstance(
        spec,
        dir,
        typeof entrypoint === 'string' ? entrypoint : undefined,
      );
    },
  };
}
