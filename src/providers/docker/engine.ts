/**
 * A small Docker Engine API client over node:http. We call about ten endpoints with JSON bodies;
 * dockerode would add ssh2 (native crypto), docker-modem and a large untyped surface for that,
 * and its stream helpers hide the status codes we branch on.
 */
import http from 'node:http';
import type { Readable } from 'node:stream';

/** The engine address used when neither the provider options nor DOCKER_HOST name one. */
export const DEFAULT_DOCKER_HOST = 'unix:///var/run/docker.sock';
/** Pinned so that request and response shapes do not change under us (Docker 20.10+). */
export const ENGINE_API_VERSION = '1.41';
const REQUEST_TIMEOUT_MS = 60_000;
const DEFAULT_TCP_PORT = 2375;

export type EngineAddress =
  | { readonly kind: 'unix'; readonly socketPath: string; readonly url: string }
  | { readonly kind: 'tcp'; readonly host: string; readonly port: number; readonly url: string };

/** Parses `unix:///path` or `tcp://host:port`; undefined plus a reason for anything else. */
export function parseDockerHost(
  value: string,
): { address: EngineAddress } | { address?: undefined; why: string } {
  if (value.startsWith('unix://')) {
    const socketPath = value.slice('unix://'.length);
    if (!socketPath.startsWith('/')) return { why: `"${value}" needs an absolute socket path` };
    return { address: { kind: 'unix', socketPath, url: value } };
  }
  if (value.startsWith('tcp://')) {
    let url: URL;
    try {
      url = new URL(value);
    } catch {
      return { why: `"${value}" is not a valid tcp:// address` };
    }
    const port = url.port === '' ? DEFAULT_TCP_PORT : Number(url.port);
    const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
    return { address: { kind: 'tcp', host, port, url: `tcp://${url.host}` } };
  }
  const scheme = value.split('://')[0] ?? value;
  return {
    why: `scheme "${scheme}" of "${value}" is not supported (TLS and ssh are not); use unix:///path or tcp://host:port`,
  };
}

/** A failed engine call: `status` for an HTTP error, `errno` when the engine was not reached. */
export class EngineError extends Error {
  override readonly name = 'EngineError';
  constructor(
    message: string,
    readonly status: number | undefined,
    readonly errno: string | undefined,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }

  /** The engine did not answer at all (down, wrong address, no permission on the socket). */
  get unreachable(): boolean {
    return this.status === undefined && this.errno !== 'ABORT_ERR';
  }
}

export interface EngineRequest {
  readonly method?: 'GET' | 'POST' | 'DELETE';
  readonly path: string;
  readonly query?: Readonly<Record<string, string | number | boolean | undefined>>;
  /** A JSON body, or a raw stream sent with `contentType`. */
  readonly body?: unknown;
  readonly stream?: Readable;
  readonly contentType?: string;
  readonly signal?: AbortSignal | undefined;
  /** Default 60 s; `0` waits forever (long polls such as /wait). */
  readonly timeoutMs?: number;
  /** Skip the `/v1.41` prefix (for `/_ping`, which answers any version). */
  readonly unversioned?: boolean;
}

export interface EngineResponse {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly text: string;
}

export interface Engine {
  readonly address: EngineAddress;
  /** Sends one request; rejects with EngineError for status >= 400 or no connection. */
  request(request: EngineRequest): Promise<EngineResponse>;
  /** `request` and parse the body as JSON. */
  json<T>(request: EngineRequest): Promise<T>;
}

/** Creates a client for one engine; connections are kept alive and shared by all requests. */
export function createEngine(address: EngineAddress): Engine {
  const agent = new http.Agent({ keepAlive: true });
  const target =
    address.kind === 'unix'
      ? { socketPath: address.socketPath }
      : { host: address.host, port: address.port };
  const request = (options: EngineRequest, retried = false): Promise<EngineResponse> =>
    new Promise((resolve, reject) => {
      const query = new URLSearchParams();
      for (const [key, value] of Object.entries(options.query ?? {}))
        if (value !== undefined) query.set(key, String(value));
      const search = query.size > 0 ? `?${query.toString()}` : '';
      const prefix = options.unversioned ? '' : `/v${ENGINE_API_VERSION}`;
      const json = options.body === undefined ? undefined : JSON.stringify(options.body);
      const timeoutMs = options.timeoutMs ?? REQUEST_TIMEOUT_MS;
      const signals = [options.signal, timeoutMs > 0 ? AbortSignal.timeout(timeoutMs) : undefined];
      const signal = AbortSignal.any(signals.filter((s) => s !== undefined));
      const req = http.request({
        ...target,
        agent,
        method: options.method ?? 'GET',
        path: `${prefix}${options.path}${search}`,
        signal,
        headers: {
          ...(json === undefined ? {} : { 'content-type': 'application/json' }),
          ...(options.contentType === undefined ? {} : { 'content-type': options.contentType }),
        },
      });
      req.on('error', (error: NodeJS.ErrnoException) => {
        // The engine closed an idle kept-alive connection as we reused it: the request never
        // reached it, so sending it once more on a fresh connection is safe.
        if (req.reusedSocket && error.code === 'ECONNRESET' && !options.stream && !retried) {
          resolve(request(options, true));
          return;
        }
        const errno = signal.aborted
          ? options.signal?.aborted
            ? 'ABORT_ERR'
            : 'ETIMEDOUT'
          : (error.code ?? 'ECONNRESET');
        const what = errno === 'ETIMEDOUT' ? `no answer within ${timeoutMs} ms` : errno;
        reject(
          new EngineError(`${address.url}: ${what}`, undefined, errno, {
            cause: options.signal?.aborted ? options.signal.reason : error,
          }),
        );
      });
      req.on('response', (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('error', (error) => req.destroy(error));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          const status = res.statusCode ?? 0;
          if (status < 400) return resolve({ status, headers: res.headers, text });
          reject(new EngineError(engineMessage(text, status), status, undefined));
        });
      });
      if (options.stream) options.stream.on('error', (error) => req.destroy(error)).pipe(req);
      else req.end(json);
    });
  return {
    address,
    request: (options) => request(options),
    async json<T>(options: EngineRequest): Promise<T> {
      const { text } = await request(options);
      return (text === '' ? undefined : JSON.parse(text)) as T;
    },
  };
}

function engineMessage(text: string, status: number): string {
  try {
    const parsed = JSON.parse(text) as { message?: unknown };
    if (typeof parsed.message === 'string') return parsed.message;
  } catch {
    // not JSON: use the raw text
  }
  return text.trim() || `HTTP ${status}`;
}
