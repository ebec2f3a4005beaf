export { assertSupported } from './capabilities.js';
export {
  ENTRYPOINT_PATH,
  ENV_NAME_PATTERN,
  entrypointScript,
  validateCommand,
  validateEnv,
} from './entrypoint.js';
export { EncageError, isEncageError, type EncageErrorCode } from './errors.js';
export { BaseInstance } from './instance-base.js';
export { Manager } from './manager/manager.js';
export type { ManagerOptions, RunOptions, SandboxedProcess } from './manager/options.js';
export type { StdioOptions, SandboxSubprocess } from './manager/launch.js';
export { EXIT_ENCAGE_FAILED, EXIT_TIMEOUT, toExitCode, type RunResult } from './manager/result.js';
export { AUTO_PROVIDER, type Selection } from './manager/select.js';
export type {
  Availability,
  Capabilities,
  Command,
  EnforcedLimit,
  Instance,
  PrepareOptions,
  Provider,
} from './provider.js';
export { createNoopProvider, NOOP_PROVIDER_NAME } from './providers/noop/index.js';
export { createScriptdirProvider, SCRIPTDIR_PROVIDER_NAME } from './providers/scriptdir/index.js';
export { quoteShellWord } from './quote.js';
export {
  parseInnerPath,
  ScriptSchema,
  validateScripts,
  writeScripts,
  type Script,
} from './script.js';
export {
  DEFAULT_PATH,
  defaultEnv,
  LimitsSchema,
  parseProviderOptions,
  parseSpec,
  SANDBOX_HOME,
  SandboxSpecSchema,
  type Limits,
  type SandboxSpecInput,
  type Spec,
} from './spec.js';
