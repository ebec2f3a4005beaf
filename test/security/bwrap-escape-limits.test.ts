import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BWRAP_ENABLED } from '../helpers/backends.js';
import { createBattery, expectMarker, waitForNoProcess, type Battery } from './battery.js';

const MIB = 1024 * 1024;
const MEMORY_LIMIT = 64 * MIB;
const PIDS_LIMIT = 32;
const SIGKILL_STATUS = 137;

describe.runIf(BWRAP_ENABLED)('bwrap escape battery: limits and timeouts', () => {
  let battery: Battery;

  beforeAll(async () => {
    battery = await createBattery('limits');
  });

  afterAll(async () => {
    await battery?.close();
  });

  it('kills setsid daemons with the sandbox when the timeout fires', async () => {
    const [daemon, grandchild, main] = ['297', '298', '299'].map((s) => `${s}.${battery.nonce}`);
    const result = await battery.run(
      `setsid sleep ${daemon} & (setsid sh -c "sleep ${grandchild} &" &); sleep 0.2
       echo START; echo "DAEMONS $(ps -eo args | grep -c '^sleep 29[78]\\.')"; sleep ${main}`,
      { limits: { timeoutMs: 1_000 } },
    );
    expectMarker(result, 'START');
    expectMarker(result, 'DAEMONS 2');
    expect(result.timedOut).toBe(true);
    expect(result.exitCode).toBe(124);
    // Run resolved after teardown: nothing of the sandbox may remain on the host.
    expect(await waitForNoProcess(`.${battery.nonce}`)).toEqual([]);
  });

  it('bounds a fork bomb by the pids limit and ends the run', async () => {
    const bounded = await battery.run(
      `echo START; python3 -c "
import os, time
forked, error = 0, None
for _ in range(200):
    try:
        pid = os.fork()
    except OSError as e:
        error = e.errno; break
    if pid == 0:
        time.sleep(2); os._exit(0)
    forked += 1
print('FORKED', forked, 'ERRNO', error, flush=True)
"; echo END`,
      { limits: { pids: PIDS_LIMIT, timeoutMs: 20_000 } },
    );
    for (const marker of ['START', 'END']) expectMarker(bounded, marker);
    const forked = Number(/^FORKED (\d+) ERRNO 11$/m.exec(bounded.stdout)?.[1]);
    expect(forked).toBeGreaterThan(0);
    expect(forked).toBeLessThan(PIDS_LIMIT);
    expect(bounded.timedOut).toBe(false);

    // The real thing: forks fail at the limit, then the shell gives up or the timeout ends it.
    const bomb = await battery.run('echo START; b() { b | b & }; b; sleep 60', {
      limits: { pids: PIDS_LIMIT, timeoutMs: 2_000 },
    });
    expectMarker(bomb, 'START');
    expect(bomb.stderr).toMatch(/Cannot fork|Resource temporarily unavailable/);
    expect(await waitForNoProcess(battery.nonce)).toEqual([]);
  });

  it('kills an allocation bomb at the memory limit while a small allocation works', async () => {
    const result = await battery.run(
      `echo START; python3 -c "b = bytearray(8 * 2**20); print('SMALL-OK', len(b))"
       python3 -c "
chunks = []
for _ in range(200):
    chunks.append(bytearray(10 * 2**20))
print('BIG-SURVIVED', flush=True)
"; echo "BOMB $?"; echo END`,
      { limits: { memoryBytes: MEMORY_LIMIT, timeoutMs: 20_000 } },
    );
    for (const marker of ['START', `SMALL-OK ${8 * MIB}`, `BOMB ${SIGKILL_STATUS}`, 'END'])
      expectMarker(result, marker);
    expect(result.stdout).not.toContain('BIG-SURVIVED');
  });

  it('bounds /tmp by the memory limit and keeps the writes off the host', async () => {
    const big = `/tmp/encage-big-${battery.nonce}`;
    const result = await battery.run(
      `echo START; df -k /tmp | tail -n 1 | awk '{ print "TMP-KB " $2 }'
       dd if=/dev/zero of=/tmp/small bs=1M count=1 2>/dev/null && echo SMALL-WRITE-OK
       dd if=/dev/zero of=${big} bs=1M count=2000 2>/tmp/dd.err; echo "DD $?"
       grep -o 'No space left on device' /tmp/dd.err | head -n 1
       echo "SIZE $(wc -c < ${big})"; echo END`,
      { limits: { memoryBytes: MEMORY_LIMIT, timeoutMs: 20_000 } },
    );
    for (const marker of ['START', 'SMALL-WRITE-OK', 'END']) expectMarker(result, marker);
    expect(Number(/^TMP-KB (\d+)$/m.exec(result.stdout)?.[1])).toBeLessThanOrEqual(
      MEMORY_LIMIT / 1024,
    );
    // tmpfs pages count against the same memory cgroup, so dd hits ENOSPC or is OOM-killed.
    const status = Number(/^DD (\d+)$/m.exec(result.stdout)?.[1]);
    expect(status).not.toBe(0);
    if (status !== SIGKILL_STATUS) expectMarker(result, 'No space left on device');
    expect(Number(/^SIZE (\d+)$/m.exec(result.stdout)?.[1])).toBeLessThanOrEqual(MEMORY_LIMIT);
    expect(existsSync(big)).toBe(false);
  });
});
