import type { DockerInstanceResources } from './instance.js';
import { removeWarm } from './pool-warm.js';

/** Refills under way at once: more would slow down the commands running meanwhile. */
const REFILL_CONCURRENCY = 2;
/** After a failed refill, the next try waits this long (the engine may be restarting). */
const REFILL_RETRY_MS = 1_000;
/**
 * Background engine work waits this long after a container is taken: a container being created
 * or removed slows a concurrent `docker exec` by half or more.
 */
const EXEC_QUIET_MS = 250;
/** A torn-down container waits at most this long for a quiet engine before it is removed. */
const REMOVAL_MAX_DELAY_MS = 2_000;

/** What the background work needs from its pool. */
export interface RefillTarget {
  /** Running, and below its size counting `refilling` containers under way. */
  wantsWarm(refilling: number): boolean;
  /** The pool would have to create a container on demand for the next spec. */
  isEmpty(): boolean;
  isRunning(): boolean;
  /** Creates one warm container and adds it (or removes it if the pool stopped meanwhile). */
  refillOne(): Promise<void>;
}

/**
 * A pool's background engine work: refills and removals. Both wait while a command starts
 * (EXEC_QUIET_MS after each hand-out), except a refill of an empty pool and an overdue removal.
 * Everything under way is tracked, for stop() and settled().
 */
export class PoolBackground {
  readonly #target: RefillTarget;
  readonly #work = new Set<Promise<unknown>>();
  /** Torn-down containers waiting for a quiet engine, each with its latest start time. */
  readonly #queued: { resources: DockerInstanceResources; due: number }[] = [];
  /** Containers whose removal failed, retried by retryLeftovers(). */
  readonly #leftovers = new Map<string, DockerInstanceResources>();
  #refilling = 0;
  #removing = 0;
  #quietAt = 0;
  #wake: NodeJS.Timeout | undefined;
  #retry: NodeJS.Timeout | undefined;

  constructor(target: RefillTarget) {
    this.#target = target;
  }

  /** Containers queued or being removed. */
  get removing(): number {
    return this.#removing + this.#queued.length;
  }

  /** Containers whose removal failed so far. */
  get leftovers(): string[] {
    return [...this.#leftovers.keys()];
  }

  /** Keeps `work` in view until it settles; returns it. */
  track<T>(work: Promise<T>): Promise<T> {
    this.#work.add(work);
    const untrack = (): void => void this.#work.delete(work);
    work.then(untrack, untrack);
    return work;
  }

  /** A command is about to start: background work waits a little. */
  hold(): void {
    this.#quietAt = performance.now() + EXEC_QUIET_MS;
  }

  /** Queues a container (and its dir) for removal. */
  discard(resources: DockerInstanceResources): void {
    this.#queued.push({ resources, due: performance.now() + REMOVAL_MAX_DELAY_MS });
    this.pump();
  }

  /** Queues the containers whose removal failed once more. */
  retryLeftovers(): void {
    const leftovers = [...this.#leftovers.values()];
    this.#leftovers.clear();
    for (const resources of leftovers) this.discard(resources);
  }

  /** Starts what may start now (everything with `flush`, or once the pool stopped). */
  pump(flush = false): void {
    const now = performance.now();
    const quiet = flush || !this.#target.isRunning() || now >= this.#quietAt;
    if (quiet || this.#target.isEmpty()) this.#refill();
    let wakeAt = quiet || !this.#canRefill() ? Infinity : this.#quietAt;
    for (const entry of this.#queued.splice(0)) {
      if (quiet || entry.due <= now) {
        this.#remove(entry.resources);
      } else {
        this.#queued.push(entry);
        wakeAt = Math.min(wakeAt, entry.due);
      }
    }
    clearTimeout(this.#wake);
    this.#wake = undefined;
    if (wakeAt === Infinity) return;
    const wake = (): void => {
      this.#wake = undefined;
      this.pump();
    };
    this.#wake = setTimeout(wake, Math.max(0, wakeAt - now)).unref();
  }

  /** Starts everything deferred; resolves once nothing is under way. */
  async settled(): Promise<void> {
    for (;;) {
      this.pump(true);
      if (this.#work.size === 0) return;
      await Promise.allSettled([...this.#work]);
    }
  }

  /** Drops the timers (the pool stops): later work is started by pump() or settled(). */
  cancelTimers(): void {
    for (const timer of [this.#wake, this.#retry]) clearTimeout(timer);
    this.#wake = undefined;
    this.#retry = undefined;
  }

  #canRefill(): boolean {
    return (
      this.#retry === undefined &&
      this.#refilling < REFILL_CONCURRENCY &&
      this.#target.wantsWarm(this.#refilling)
    );
  }

  #refill(): void {
    while (this.#canRefill()) {
      this.#refilling += 1;
      const refill = this.#target.refillOne().catch(() => {
        if (!this.#target.isRunning() || this.#retry !== undefined) return;
        const retry = (): void => {
          this.#retry = undefined;
          this.pump();
        };
        this.#retry = setTimeout(retry, REFILL_RETRY_MS).unref();
      });
      void this.track(
        refill.finally(() => {
          this.#refilling -= 1;
          this.pump();
        }),
      );
    }
  }

  #remove(resources: DockerInstanceResources): void {
    this.#removing += 1;
    const removal = removeWarm(resources).catch(
      () => void this.#leftovers.set(resources.container, resources),
    );
    void this.track(removal.finally(() => (this.#removing -= 1)));
  }
}
