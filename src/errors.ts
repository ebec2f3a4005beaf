/** Every failure of encage itself carries one of these codes; callers branch on `code`. */
export type EncageErrorCode =
  | 'INVALID_SPEC'
  | 'INVALID_SCRIPT'
  | 'INVALID_ARGUMENT'
  | 'UNKNOWN_PROVIDER'
  | 'DUPLICATE_PROVIDER'
  | 'PROVIDER_UNAVAILABLE'
  | 'UNSUPPORTED_SPEC'
  | 'PREPARE_FAILED'
  | 'SPAWN_FAILED'
  | 'INSTANCE_CLOSED'
  | 'MANAGER_CLOSED'
  | 'ABORTED'
  | 'TEARDOWN_FAILED';

/** The one error class of encage. `path` names the offending field or file when there is one. */
export class EncageError extends Error {
  override readonly name = 'EncageError';
  readonly code: EncageErrorCode;
  readonly path: string | undefined;

  constructor(
    code: EncageErrorCode,
    message: string,
    options: { cause?: unknown; path?: string | undefined } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.path = options.path;
  }
}

/** True when `error` is an EncageError, optionally with the given code. */
export function isEncageError(error: unknown, code?: EncageErrorCode): error is EncageError {
  return error instanceof EncageError && (code === undefined || error.code === code);
}

/** Turns an AbortSignal's reason into the ABORTED error. */
export function abortError(signal: AbortSignal): EncageError {
  return new EncageError('ABORTED', 'the operation was aborted', { cause: signal.reason });
}
