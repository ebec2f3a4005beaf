import { spawn } from 'node:child_process';
import type { Readable } from 'node:stream';
import type { BenchContext } from '../lib/context.js';
import { compareRates, skipped } from '../lib/figure.js';
import { progress } from '../lib/stats.js';
import type { Figure } from '../lib/types.js';

const GROUP = 'streaming';
const MIB = 1024 * 1024;

/** Reads a stream to its end, counting bytes without keeping them. */
function drain(stream: Readable | null | undefined): Promise<number> {
  if (!stream) return Promise.reject(new Error('bench: no stdout stream to read'));
  return new Promise((resolve, reject) => {
    let bytes = 0;
    stream.on('data', (chunk: Buffer) => (bytes += chunk.length));
    stream.on('end', () => resolve(bytes));
    stream.on('error', reject);
  });
}

function checkBytes(got: number, wanted: number, what: string): void {
  if (got !== wanted) throw new Error(`bench: ${what} streamed ${got} bytes, expected ${wanted}`);
}

/** `head -c N /dev/zero` inside bwrap read through Manager.spawn, vs the same head on the host. */
export async function benchStream(ctx: BenchContext): Promise<Figure[]> {
  const { bytes, runs } = { bytes: ctx.settings.streamBytes, runs: ctx.settings.streamRuns };
  const label = `bwrap: ${bytes / MIB} MiB from head -c via Manager.spawn (streamed)`;
  const why = ctx.unavailable.get('bwrap');
  if (why !== undefined)
    return [
      skipped(
        {
          id: 'stream.bwrap',
          group: GROUP,
          label,
          short: 'bwrap head vs host head',
          unit: 'MiB/s',
        },
        `bwrap unavailable: ${why}`,
      ),
    ];
  const args = ['-c', String(bytes), '/dev/zero'];
  const sandboxed = async (): Promise<number> => {
    const started = performance.now();
    const running = await ctx.manager.spawn({ provider: 'bwrap' }, 'head', args, {
      stdout: 'pipe',
      stderr: 'ignore',
      buffer: false,
    });
    const got = await drain(running.subprocess.stdout);
    const result = await running.result;
    if (result.exitCode !== 0) throw new Error(`bench: sandboxed head exited ${result.exitCode}`);
    checkBytes(got, bytes, 'sandboxed head');
    return performance.now() - started;
  };
  const host = async (): Promise<number> => {
    const started = performance.now();
    const child = spawn('head', args, { stdio: ['ignore', 'pipe', 'ignore'], env: {} });
    const exited = new Promise<number | null>((resolve, reject) => {
      child.on('error', reject);
      child.on('close', resolve);
    });
    const got = await drain(child.stdout);
    if ((await exited) !== 0) throw new Error('bench: host head failed');
    checkBytes(got, bytes, 'host head');
    return performance.now() - started;
  };
  progress(
    `streaming: ${runs} interleaved rounds of ${bytes / MIB} MiB, sandboxed and on the host`,
  );
  await sandboxed(); // warm up
  const rates = { encage: [] as number[], host: [] as number[] };
  for (let r = 0; r < runs; r++) {
    const order = r % 2 === 0 ? [sandboxed, host] : [host, sandboxed];
    for (const run of order) {
      const ms = await run();
      (run === sandboxed ? rates.encage : rates.host).push(bytes / MIB / (ms / 1000));
    }
  }
  return [
    compareRates({
      id: 'stream.bwrap',
      group: GROUP,
      label,
      short: `bwrap ${bytes / MIB} MiB vs host head`,
      unit: 'MiB/s',
      encage: rates.encage,
      referenceLabel: 'the same head on the host (child_process)',
      reference: rates.host,
      note: 'both read by this node process from a pipe; includes sandbox start and teardown',
    }),
  ];
}
