import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EncageError, Manager } from '../../src/index.js';
import { createDockerProvider } from '../../src/providers/docker/index.js';
import { DOCKER_ENABLED, TEST_IMAGE } from '../helpers/docker.js';
import { rejection } from '../helpers/errors.js';
import { CLI_PATH, createScriptsDir, readyLine, writeChildScript } from './helpers/child.js';
import {
  containersNamed,
  emptyWithin,
  encageContainers,
  entriesOf,
  MARKER_LABEL,
  processesWith,
} from './helpers/leaks.js';
import { SANDBOX_PATH } from './helpers/manager.js';
import { createMarker, usePrivateTmp } from './helpers/scope.js';

const DOCKER_SOCKET = '/var/run/docker.sock';
const CHILD_TIMEOUT_MS = 120_000;
/** The promise after a crash: 5 s after `encage gc`, nothing the dead Manager sandboxed runs. */
const AFTERLIFE_MS = 5_000;

/** A TCP front for the engine's socket that the test can cut and bring back, like a dockerd restart. */
async function startEngineProxy(port = 0): Promise<{ url: string; port: number; cut: () => void }> {
  const sockets = new Set<net.Socket>();
  // Half-open: `docker exec` closes its write side when stdin ends and still reads the output.
  const server = net.createServer({ allowHalfOpen: true }, (client) => {
    const upstream = net.connect({ path: DOCKER_SOCKET, allowHalfOpen: true });
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on('error', () => undefined);
      socket.on('close', () => sockets.delete(socket));
    }
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  const address = server.address() as net.AddressInfo;
  return {
    url: `tcp://127.0.0.1:${address.port}`,
    port: address.port,
    cut: () => {
      server.close();
      for (const socket of sockets) socket.destroy();
    },
  };
}

describe.runIf(DOCKER_ENABLED)('docker: engine faults', () => {
  let tmp: ReturnType<typeof usePrivateTmp>;
  let workdir: string;
  beforeAll(async () => {
    workdir = await mkdtemp(path.join('/tmp', 'rel-docker-workdir-'));
    tmp = usePrivateTmp('docker');
  });
  afterAll(async () => {
    tmp.restore();
    await rm(workdir, { recursive: true, force: true });
  });

  const spec = (marker: string) => ({
    provider: 'docker',
    workdir,
    env: { PATH: SANDBOX_PATH, ENCAGE_REL_MARKER: marker },
    options: { image: TEST_IMAGE },
    labels: { [MARKER_LABEL]: marker },
  });

  async function expectNothingLeft(marker: string): Promise<void> {
    expect(await entriesOf(tmp.dir)).toEqual([]);
    expect(await emptyWithin(() => processesWith(marker), AFTERLIFE_MS)).toEqual([]);
    expect(
      await emptyWithin(async () => (await encageContainers(marker)) ?? [], AFTERLIFE_MS),
    ).toEqual([]);
  }

  it('reports an engine that is not there (a dead DOCKER_HOST) as unavailable', async () => {
    const dead = `unix://${path.join(tmp.dir, '..', 'no-engine.sock')}`;
    const previous = process.env.DOCKER_HOST;
    process.env.DOCKER_HOST = dead;
    let provider;
    try {
      provider = createDockerProvider(); // reads DOCKER_HOST, as the CLI does
    } finally {
      if (previous === undefined) delete process.env.DOCKER_HOST;
      else process.env.DOCKER_HOST = previous;
    }
    const availability = await provider.check();
    expect(availability.available).toBe(false);
    expect(availability.reason).toContain(dead);
    const manager = new Manager({ providers: [provider], cleanupOnSignal: false });
    const marker = createMarker('docker-dead');
    const error = await rejection(manager.run(spec(marker), 'echo', [marker]));
    expect(error.code).toBe('PROVIDER_UNAVAILABLE');
    expect(error.message).toMatch(/Start dockerd|DOCKER_HOST/);
    await manager.close();
    await expectNothingLeft(marker);
  });

  it('refuses a missing image by name, without pulling and without a container', async () => {
    const manager = new Manager({ providers: [createDockerProvider()], cleanupOnSignal: false });
    const marker = createMarker('docker-image');
    const image = `encage-test/missing-${marker}:latest`;
    const error = await rejection(
      manager.run({ ...spec(marker), options: { image } }, 'echo', [marker]),
    );
    expect(error.code).toMatch(/INVALID_SPEC|PREPARE_FAILED/);
    expect(error.message).toContain(image);
    expect(error.message).toMatch(/never pulls/);
    await manager.close();
    await expectNothingLeft(marker);
  });

  it(
    'fails typed when the engine goes away mid-run, and cleans up once it is back',
    async () => {
      const proxy = await startEngineProxy();
      const manager = new Manager({
        providers: [createDockerProvider({ host: proxy.url })],
        cleanupOnSignal: false,
      });
      const marker = createMarker('docker-cut');
      const running = await manager.spawn(
        spec(marker),
        'sh',
        ['-c', 'echo ready; sleep 60', marker],
        { buffer: false },
      );
      const { stdout } = running.subprocess;
      await new Promise((resolve) => stdout?.once('data', resolve));
      // Positive control: the command really runs in a container before the engine goes.
      expect(processesWith(marker).length).toBeGreaterThan(0);
      proxy.cut();
      const settled = await running.result.then(
        (result) => ({ result }),
        (error: unknown) => ({ error }),
      );
      if ('error' in settled) {
        expect(settled.error).toBeInstanceOf(EncageError);
        expect((settled.error as EncageError).code).toBe('TEARDOWN_FAILED');
        expect((settled.error as EncageError).message).toMatch(/encage gc|docker rm -f/);
      } else {
        expect(settled.result.exitCode).not.toBe(0);
      }
      // Its container could not be removed: the instance stays listed until that works.
      const stranded = manager.instances();
      expect(stranded).toHaveLength(1);
      const container = `encage-${stranded[0]?.id ?? ''}`;
      expect(await containersNamed(container)).toEqual([container]);
      const back = await startEngineProxy(proxy.port); // the engine is back
      await manager.close();
      back.cut();
      expect(manager.instances()).toEqual([]);
      expect(await containersNamed(container)).toEqual([]);
      await expectNothingLeft(marker);
    },
    CHILD_TIMEOUT_MS,
  );
});

/** A Manager running a sleeping command in a container, waiting to be killed. */
const CRASH_CHILD = `
import { Manager } from '{{index}}';
import { createDockerProvider } from '{{docker}}';
const [workdir, marker, image] = process.argv.slice(2);
const manager = new Manager({ providers: [createDockerProvider()], cleanupOnSignal: true });
const running = await manager.spawn(
  { provider: 'docker', workdir, env: { PATH: '/usr/bin:/bin', ENCAGE_REL_MARKER: marker }, options: { image } },
  'sh', ['-c', 'sleep 60 & echo ready; wait', marker], { buffer: false });
await new Promise((resolve) => running.subprocess.stdout.once('data', resolve));
console.log(JSON.stringify({ ready: true, pid: process.pid, container: 'encage-' + running.instance.id }));
setInterval(() => undefined, 1000);
`;

describe.runIf(DOCKER_ENABLED)('docker: crash safety', () => {
  let scratch: string;
  beforeAll(async () => {
    scratch = await createScriptsDir('docker-crash');
  });
  afterAll(() => rm(scratch, { recursive: true, force: true }));

  it(
    'leaves a container behind when the Manager is SIGKILLed, and encage gc removes it',
    async () => {
      const script = await writeChildScript(scratch, 'crash-child', CRASH_CHILD);
      const workdir = await mkdtemp(path.join(scratch, 'workdir-'));
      const marker = createMarker('docker-crash');
      const child = execa('node', [script, workdir, marker, TEST_IMAGE], {
        reject: false,
        timeout: CHILD_TIMEOUT_MS,
        env: { TMPDIR: scratch },
        extendEnv: true,
      });
      const ready = await readyLine<{ pid: number; container: string }>(child);
      process.kill(ready.pid, 'SIGKILL');
      expect((await child).signal).toBe('SIGKILL');
      // Positive control: SIGKILL cannot clean up, so gc has something to do.
      const names = () => containersNamed(ready.container);
      expect(await names()).toEqual([ready.container]);
      const gc = await execa('node', [CLI_PATH, 'gc', '--json'], { reject: false });
      expect(gc.exitCode, gc.stderr).toBe(0);
      expect((JSON.parse(gc.stdout) as { removed: string[] }).removed).toContain(ready.container);
      expect(await names()).toEqual([]);
      expect(await emptyWithin(() => processesWith(marker), AFTERLIFE_MS)).toEqual([]);
    },
    CHILD_TIMEOUT_MS,
  );
});
