import { abortError, EncageError } from '../../errors.js';
import { EngineError, type Engine } from './engine.js';

/**
 * Creates and starts a container named `name`; on any failure or abort nothing of it is left.
 * The requests themselves are not aborted: the engine would finish a create we stopped
 * listening to and leave an orphan, so an abort is acted on between the steps.
 */
export async function createAndStart(
  engine: Engine,
  name: string,
  body: Record<string, unknown>,
  signal: AbortSignal | undefined,
): Promise<void> {
  try {
    await engine.request({ method: 'POST', path: '/containers/create', query: { name }, body });
    if (signal?.aborted) throw abortError(signal);
    await engine.request({ method: 'POST', path: `/containers/${name}/start` });
    if (signal?.aborted) throw abortError(signal);
  } catch (error) {
    await removeContainer(engine, name).catch(() => undefined);
    throw toEncageError(engine, error, 'cannot start the container');
  }
}

/** Kills and removes the container and its anonymous volumes; an absent container is fine. */
export async function removeContainer(engine: Engine, name: string): Promise<void> {
  try {
    await engine.request({
      method: 'DELETE',
      path: `/containers/${name}`,
      query: { force: true, v: true },
    });
  } catch (error) {
    if (error instanceof EngineError && error.status === 404) return;
    // 409: removal already in progress (a concurrent teardown or gc); the engine finishes it.
    if (error instanceof EngineError && error.status === 409) return;
    throw error;
  }
}

/** Resolves once the container is not running any more (or is gone). */
export async function waitUntilStopped(
  engine: Engine,
  name: string,
  signal: AbortSignal,
): Promise<void> {
  await engine.request({
    method: 'POST',
    path: `/containers/${name}/wait`,
    query: { condition: 'not-running' },
    signal,
    timeoutMs: 0,
  });
}

/** Maps an engine failure to the EncageError a caller branches on, with how to fix it. */
export function toEncageError(engine: Engine, error: unknown, what: string): EncageError {
  if (error instanceof EncageError) return error;
  if (error instanceof EngineError && error.unreachable) {
    return new EncageError(
      'PROVIDER_UNAVAILABLE',
      `[docker] ${what}: the engine at ${engine.address.url} does not answer (${error.errno ?? 'error'}). Start dockerd or set DOCKER_HOST.`,
      { path: 'spec.provider', cause: error },
    );
  }
  const detail = error instanceof Error ? error.message : String(error);
  const hint = /executable file not found|no such file or directory/i.test(detail)
    ? ' The image must provide /bin/sh and sleep.'
    : ' Check the spec paths and the image, or run "encage doctor".';
  return new EncageError('PREPARE_FAILED', `[docker] ${what}: ${detail}.${hint}`, {
    cause: error,
  });
}
