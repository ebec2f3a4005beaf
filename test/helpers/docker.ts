import net from 'node:net';
import { createEngine, parseDockerHost, type Engine } from '../../src/providers/docker/index.js';
import { DEFAULT_DOCKER_HOST } from '../../src/providers/docker/engine.js';
import { requireBackend } from '../../src/testing/index.js';

/** The local test image built offline by scripts/provision.sh (busybox, users root and sandbox). */
export const TEST_IMAGE = 'encage-test/busybox:latest';
export const RUNSC_RUNTIME = 'runsc';

/** A client for the engine the tests use (DOCKER_HOST, else the local socket). */
export function testEngine(): Engine {
  const parsed = parseDockerHost(process.env.DOCKER_HOST ?? DEFAULT_DOCKER_HOST);
  if (!parsed.address) throw new Error(`DOCKER_HOST: ${parsed.why}`);
  return createEngine(parsed.address);
}

async function engineRuntimes(): Promise<string[] | undefined> {
  try {
    const engine = testEngine();
    await engine.request({ path: '/_ping', unversioned: true, timeoutMs: 5_000 });
    const info = await engine.json<{ Runtimes?: Record<string, unknown> }>({ path: '/info' });
    return Object.keys(info.Runtimes ?? {});
  } catch {
    return undefined;
  }
}

const runtimes = await engineRuntimes();

/** Docker tests run when the engine answers /_ping, and must run (and fail) in CI when not. */
export const DOCKER_ENABLED = requireBackend('docker', runtimes !== undefined);
/** gVisor tests run when the engine lists the runsc runtime. */
export const RUNSC_ENABLED = requireBackend('runsc', runtimes?.includes(RUNSC_RUNTIME) ?? false);

/** Names of containers labelled encage.* that are owned by this process. */
export async function ownContainers(engine: Engine = testEngine()): Promise<string[]> {
  const list = await engine.json<{ Names?: string[]; Labels?: Record<string, string> }[]>({
    path: '/containers/json',
    query: {
      all: true,
      filters: JSON.stringify({ label: [`encage.owner-pid=${process.pid}`] }),
    },
  });
  return list.map((c) => (c.Names?.[0] ?? '').replace(/^\//, ''));
}

/** A TCP listener on 127.0.0.1 piping every connection to the engine's unix socket. */
export interface SocketProxy {
  readonly port: number;
  readonly url: string;
  /** First request lines seen ("POST /v1.41/containers/x/exec"), to tell which client did what. */
  readonly requests: string[];
  close(): Promise<void>;
}

export async function startSocketProxy(socketPath = '/var/run/docker.sock'): Promise<SocketProxy> {
  const requests: string[] = [];
  const sockets = new Set<net.Socket>();
  // Half-open: `docker exec -i` closes its writing side after stdin and still reads the output.
  const server = net.createServer({ allowHalfOpen: true }, (client) => {
    const upstream = net.connect({ path: socketPath, allowHalfOpen: true });
    sockets.add(client).add(upstream);
    client.on('data', (chunk: Buffer) => {
      const line = chunk.toString('latin1').split('\r\n')[0] ?? '';
      if (/^(GET|POST|DELETE|PUT|HEAD) \//.test(line)) requests.push(line);
    });
    client.pipe(upstream).pipe(client);
    const drop = (): void => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    url: `tcp://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
