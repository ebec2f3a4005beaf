const TERMINATION_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

/**
 * Runs `cleanup` when the process gets a termination signal, then re-raises the signal so the
 * process ends as it would have without us. Returns a function that removes the handlers.
 */
export function onTerminationSignal(cleanup: () => Promise<void>): () => void {
  const handlers = TERMINATION_SIGNALS.map((signal) => {
    const handler = (): void => {
      remove();
      void cleanup().finally(() => process.kill(process.pid, signal));
    };
    process.on(signal, handler);
    return [signal, handler] as const;
  });
  const remove = (): void => {
    for (const [signal, handler] of handlers) process.off(signal, handler);
  };
  return remove;
}
