import { getEventListeners } from 'node:events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EncageError } from '../../src/index.js';
import { emptyWithin, entriesOf, processesWith } from './helpers/leaks.js';
import { openBench, type Bench } from './helpers/manager.js';

const SHARING_RUNS = 200;

describe('a caller signal shared by many runs', () => {
  let bench: Bench;
  const warnings: Error[] = [];
  const onWarning = (warning: Error): void => {
    warnings.push(warning);
  };
  beforeAll(async () => {
    bench = await openBench('abort');
    process.on('warning', onWarning);
  });
  afterAll(async () => {
    process.off('warning', onWarning);
    await bench.close();
  });

  it('gets one listener however many runs share it, and none once they are done', async () => {
    const shared = new AbortController();
    let most = 0;
    const runs = Array.from({ length: SHARING_RUNS }, () =>
      bench.manager
        .run(bench.spec('scriptdir'), 'sh', ['-c', 'echo "$0"', bench.marker], {
          signal: shared.signal,
        })
        .finally(() => {
          most = Math.max(most, getEventListeners(shared.signal, 'abort').length);
        }),
    );
    const results = await Promise.all(runs);
    expect(results.every((result) => result.stdout === `${bench.marker}\n`)).toBe(true);
    expect(most).toBe(1); // positive control: it was listened to while runs were under way
    expect(getEventListeners(shared.signal, 'abort')).toHaveLength(0);
    expect(warnings.filter((warning) => warning.name === 'MaxListenersExceededWarning')).toEqual(
      [],
    );
  });

  it('aborts every run sharing it, wherever each one is', async () => {
    const shared = new AbortController();
    const runs = Array.from({ length: 50 }, () =>
      bench.manager
        .run(bench.spec('scriptdir'), 'sh', ['-c', 'sleep 60', bench.marker], {
          signal: shared.signal,
        })
        .then(
          (result) => (result.aborted ? 'aborted' : `exit ${result.exitCode}`),
          (error: unknown) =>
            error instanceof EncageError ? `rejected ${error.code}` : 'untyped rejection',
        ),
    );
    await new Promise((resolve) => setTimeout(resolve, 200));
    shared.abort();
    const outcomes = await Promise.all(runs);
    expect(
      outcomes.filter((outcome) => outcome !== 'aborted' && outcome !== 'rejected ABORTED'),
    ).toEqual([]);
    expect(outcomes).toContain('aborted'); // some were running when it came
    expect(getEventListeners(shared.signal, 'abort')).toHaveLength(0);
    expect(await emptyWithin(() => processesWith(bench.marker), 5_000)).toEqual([]);
    expect(await entriesOf(bench.tmp)).toEqual([]);
  });
});
