interface Link {
  readonly controllers: Set<AbortController>;
  readonly onAbort: () => void;
}

/**
 * Links caller signals to internal controllers with one listener per signal, however many runs
 * share it: AbortSignal.any leaks on a long-lived signal (Node 20), and a listener per run trips
 * MaxListenersExceededWarning. `link` returns the function that undoes it.
 */
export function createAbortLinks(): (
  signal: AbortSignal | undefined,
  controller: AbortController,
) => () => void {
  const links = new Map<AbortSignal, Link>();
  return (signal, controller) => {
    if (!signal) return () => undefined;
    if (signal.aborted) {
      controller.abort(signal.reason);
      return () => undefined;
    }
    let link = links.get(signal);
    if (!link) {
      const controllers = new Set<AbortController>();
      const onAbort = (): void => {
        links.delete(signal);
        for (const linked of controllers) linked.abort(signal.reason);
      };
      signal.addEventListener('abort', onAbort, { once: true });
      link = { controllers, onAbort };
      links.set(signal, link);
    }
    const { controllers, onAbort } = link;
    controllers.add(controller);
    return () => {
      controllers.delete(controller);
      if (controllers.size > 0 || links.get(signal) !== link) return;
      signal.removeEventListener('abort', onAbort);
      links.delete(signal);
    };
  };
}
