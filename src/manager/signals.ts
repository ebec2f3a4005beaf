const TERMINATION_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
/** The longest cleanup may hold back a termination signal before it acts anyway. */
export const SIGNAL_CLEANUP_MAX_MS = 10_000;

/**
 * Runs `cleanup` when the process gets a termination signal, then re-raises the signal so the
 * process ends as it would have without us. Cleanup runs once: the same or another termination
 * signal arriving meanwhile is absorbed, and after SIGNAL_CLEANUP_MAX_MS the signal acts anyway.
 * Returns a function that removes the handlers.
 */
export function onTerminationSignal(cleanup: () => Promise<void>): () => void {
  let fired = false;
  const handler = (signal: NodeJS.Signals): void => {
    if (fired) return;
    fired = true;
    let timer: NodeJS.Timeout | undefined;
    const bounded = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, SIGNAL_CLEANUP_MAX_MS);
    });
    void Promise.race([cleanup().catch(() => undefined), bounded]).finally(() => {
      clearTimeout(timer);
      remove();
      process.kill(process.pid, signal);
    });
  };
  const remove = (): void => {
    for (const signal of TERMINATION_SIGNALS) process.off(signal, handler);
  };
  for (const signal of TERMINATION_SIGNALS) process.on(signal, handler);
  return remove;
}
