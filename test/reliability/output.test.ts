import { once } from 'node:events';
import type { Readable, Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { emptyWithin, entriesOf, processesWith } from './helpers/leaks.js';
import { openBench, REAL_PROVIDER_NAMES, type Bench } from './helpers/manager.js';

const MIB = 1024 * 1024;
const GIB = 1024 * MIB;
const STREAM_BYTES = GIB;
/** RSS this process may gain while 1 GiB streams through it. */
const STREAM_RSS_BUDGET = 200 * MIB;
/** The control: holding this much output in memory must show up as RSS growth. */
const BUFFERED_CONTROL_BYTES = 256 * MIB;
const RSS_SAMPLE_MS = 20;
const OUTPUT_LIMIT = MIB;
/** Each stream, written interleaved in 64 KiB pieces (a pipe holds 64 KiB). */
const INTERLEAVED_BYTES_PER_STREAM = 20 * MIB;
const STDIN_BYTES = 100 * 1000 * 1000;
const STDIN_CHUNK = 64 * 1024;
const LONG_TEST_MS = 300_000;

/** Counts the bytes of a stream and resolves when it ends. */
async function countBytes(stream: Readable | null | undefined): Promise<number> {
  if (!stream) throw new Error('no stream');
  let total = 0;
  for await (const chunk of stream) total += (chunk as Buffer).length;
  return total;
}

/** Runs `work` while sampling this process's RSS; resolves to its result and the peak growth. */
async function withRssPeak<T>(work: () => Promise<T>): Promise<{ value: T; growth: number }> {
  const base = process.memoryUsage.rss();
  let peak = base;
  const sampler = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage.rss());
  }, RSS_SAMPLE_MS);
  try {
    const value = await work();
    peak = Math.max(peak, process.memoryUsage.rss());
    return { value, growth: peak - base };
  } finally {
    clearInterval(sampler);
  }
}

/** Writes `total` bytes honouring backpressure; resolves to how often write() said "wait". */
async function writeWithBackpressure(stdin: Writable, total: number): Promise<number> {
  const chunk = Buffer.alloc(STDIN_CHUNK, 0x61);
  let written = 0;
  let waits = 0;
  while (written < total) {
    const piece = chunk.subarray(0, Math.min(STDIN_CHUNK, total - written));
    written += piece.length;
    if (!stdin.write(piece)) {
      waits += 1;
      await once(stdin, 'drain');
    }
  }
  stdin.end();
  return waits;
}

describe.each(REAL_PROVIDER_NAMES)('output and input through %s', (provider) => {
  let bench: Bench;
  beforeAll(async () => {
    bench = await openBench(`output-${provider}`);
  });
  afterAll(() => bench.close());

  it(
    'streams 1 GiB from a sandboxed head -c at steady memory',
    async () => {
      const { value, growth } = await withRssPeak(async () => {
        const running = await bench.manager.spawn(
          bench.spec(provider),
          'head',
          ['-c', String(STREAM_BYTES), '/dev/zero'],
          { buffer: false },
        );
        const [bytes, result] = await Promise.all([
          countBytes(running.subprocess.stdout),
          running.result,
        ]);
        return { bytes, result };
      });
      expect(value.result.exitCode).toBe(0);
      expect(value.bytes).toBe(STREAM_BYTES);
      expect(growth, `RSS grew ${Math.round(growth / MIB)} MiB`).toBeLessThan(STREAM_RSS_BUDGET);
    },
    LONG_TEST_MS,
  );

  it(
    'shows the memory of buffered output, so the streaming figure means something',
    async () => {
      const { value, growth } = await withRssPeak(() =>
        bench.manager.run(bench.spec(provider), 'head', [
          '-c',
          String(BUFFERED_CONTROL_BYTES),
          '/dev/zero',
        ]),
      );
      expect(value.stdout.length).toBe(BUFFERED_CONTROL_BYTES);
      expect(growth, `RSS grew ${Math.round(growth / MIB)} MiB`).toBeGreaterThan(STREAM_RSS_BUDGET);
    },
    LONG_TEST_MS,
  );

  it('cuts buffered output at limits.outputBytes, in bytes, and flags it', async () => {
    const spec = bench.spec(provider, { limits: { outputBytes: OUTPUT_LIMIT } });
    const ascii = await bench.manager.run(spec, 'yes', []);
    expect(ascii.outputTruncated).toBe(true);
    expect(ascii.stdout.length).toBe(OUTPUT_LIMIT);
    const wide = await bench.manager.run(spec, 'yes', ['é']);
    expect(wide.outputTruncated).toBe(true);
    expect(Buffer.byteLength(wide.stdout)).toBeLessThanOrEqual(OUTPUT_LIMIT);
    expect(Buffer.byteLength(wide.stdout)).toBeGreaterThan(OUTPUT_LIMIT - 4);
    expect(wide.stdout.startsWith('é\né\n')).toBe(true);
    const errors = await bench.manager.run(spec, 'sh', ['-c', 'yes >&2', bench.marker]);
    expect(errors.outputTruncated).toBe(true);
    expect(errors.stderr.length).toBe(OUTPUT_LIMIT);
    const fits = await bench.manager.run(spec, 'echo', ['fits']);
    expect(fits).toMatchObject({ outputTruncated: false, stdout: 'fits\n' });
  });

  it('kills what the command started once its output passed the limit', async () => {
    const spec = bench.spec(provider, { limits: { outputBytes: OUTPUT_LIMIT } });
    // The shell ignores SIGTERM and outlives yes's broken pipe: only a kill of the tree ends it.
    const result = await bench.manager.run(spec, 'sh', [
      '-c',
      'trap "" TERM; yes; sleep 60',
      bench.marker,
    ]);
    expect(result.outputTruncated).toBe(true);
    expect(await emptyWithin(() => processesWith(bench.marker), 5_000)).toEqual([]);
    expect(await entriesOf(bench.tmp)).toEqual([]);
  });

  it('reads large stdout and stderr at once without deadlock, buffered and streamed', async () => {
    // Alternating 64 KiB writes: whoever drains one stream to its end first blocks the writer.
    const pieces = INTERLEAVED_BYTES_PER_STREAM / (64 * 1024);
    const script = `i=0; while [ $i -lt ${pieces} ]; do head -c 65536 /dev/zero; head -c 65536 /dev/zero >&2; i=$((i+1)); done`;
    const buffered = await bench.manager.run(bench.spec(provider), 'sh', [
      '-c',
      script,
      bench.marker,
    ]);
    expect(buffered.exitCode).toBe(0);
    expect([buffered.stdout.length, buffered.stderr.length]).toEqual([
      INTERLEAVED_BYTES_PER_STREAM,
      INTERLEAVED_BYTES_PER_STREAM,
    ]);
    const running = await bench.manager.spawn(
      bench.spec(provider),
      'sh',
      ['-c', script, bench.marker],
      { buffer: false },
    );
    const [out, err, result] = await Promise.all([
      countBytes(running.subprocess.stdout),
      countBytes(running.subprocess.stderr),
      running.result,
    ]);
    expect(result.exitCode).toBe(0);
    expect([out, err]).toEqual([INTERLEAVED_BYTES_PER_STREAM, INTERLEAVED_BYTES_PER_STREAM]);
  }, 120_000);

  it('passes 100 MB through cat with stdin backpressure, byte for byte', async () => {
    const running = await bench.manager.spawn(bench.spec(provider), 'cat', [], {
      stdin: 'pipe',
      buffer: false,
    });
    const stdin = running.subprocess.stdin;
    if (!stdin) throw new Error('no stdin');
    const [waits, bytes, result] = await Promise.all([
      writeWithBackpressure(stdin, STDIN_BYTES),
      countBytes(running.subprocess.stdout),
      running.result,
    ]);
    expect(result.exitCode).toBe(0);
    expect(bytes).toBe(STDIN_BYTES);
    // Positive control: the pipe really pushed back, so the loop above did wait for it.
    expect(waits).toBeGreaterThan(0);
  }, 120_000);
});
