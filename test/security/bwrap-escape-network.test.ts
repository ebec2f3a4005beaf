import { existsSync, readdirSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BWRAP_ENABLED } from '../helpers/backends.js';
import { createBattery, expectMarker, type Battery } from './battery.js';

/** Node inside the sandbox: connects to argv[1] (a path, or host:port), prints what it got. */
const CLIENT = `
const [target] = process.argv.slice(1);
const net = require('node:net');
const at = target.startsWith('/') || target.startsWith('@')
  ? { path: target.replace(/^@/, '\\0') }
  : { host: target.split(':')[0], port: Number(target.split(':')[1]) };
const socket = net.connect(at);
socket.setTimeout(3000, () => { console.log('CLIENT TIMEOUT ' + target); socket.destroy(); });
socket.on('data', (data) => console.log('GOT ' + String(data)));
socket.on('error', (error) => console.log('CLIENT ' + error.code + ' ' + target));
`;

function client(target: string): string {
  return `node -e "$CLIENT" ${target}`;
}

/** A host server that writes `canary` to every client. */
async function listen(
  canary: string,
  at: { port: number; host: string } | string,
): Promise<Server> {
  const server = createServer((socket) => socket.end(canary));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    if (typeof at === 'string') server.listen(at, resolve);
    else server.listen(at.port, at.host, resolve);
  });
  return server;
}

describe.runIf(BWRAP_ENABLED)('bwrap escape battery: network', () => {
  let battery: Battery;
  let canary: string;
  const servers: Server[] = [];
  let tcpTarget = '';

  beforeAll(async () => {
    battery = await createBattery('net');
    canary = `NET-CANARY-${battery.nonce}`;
    const tcp = await listen(canary, { port: 0, host: '127.0.0.1' });
    servers.push(tcp);
    const address = tcp.address();
    if (address === null || typeof address === 'string') throw new Error('no TCP port');
    tcpTarget = `127.0.0.1:${address.port}`;
  });

  afterAll(async () => {
    await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
    await battery?.close();
  });

  const env = (): Record<string, string> => ({
    PATH: '/usr/local/bin:/usr/bin:/bin',
    HOME: '/home/sandbox',
    CLIENT,
  });

  it('cannot reach a TCP server on host loopback with network "none", while "host" can', async () => {
    const none = await battery.run(
      `echo START; node -e "require('net').createServer((s) => s.end('LOOPBACK-OK')).listen(4555, '127.0.0.1', function () { const c = require('net').connect(4555, '127.0.0.1'); c.on('data', (d) => { console.log(String(d)); process.exit(0); }); })"
       ${client(tcpTarget)}; echo END`,
      { network: 'none', env: env() },
    );
    for (const marker of ['START', 'LOOPBACK-OK', 'END']) expectMarker(none, marker);
    expect(none.stdout).toMatch(/^CLIENT E[A-Z]+ 127\.0\.0\.1:/m);
    expect(none.stdout).not.toContain(canary);

    const host = await battery.run(`echo START; ${client(tcpTarget)}; echo END`, {
      network: 'host',
      env: env(),
    });
    for (const marker of ['START', `GOT ${canary}`, 'END']) expectMarker(host, marker);
  });

  it('cannot reach a host abstract unix socket with network "none", while "host" can', async () => {
    const name = `encage-sec-abstract-${battery.nonce}`;
    servers.push(await listen(canary, `\0${name}`));
    const none = await battery.run(`echo START; ${client(`@${name}`)}; echo END`, {
      env: env(),
    });
    for (const marker of ['START', 'END']) expectMarker(none, marker);
    expect(none.stdout).toContain(`CLIENT ECONNREFUSED @${name}`);
    expect(none.stdout).not.toContain(canary);

    const host = await battery.run(`echo START; ${client(`@${name}`)}; echo END`, {
      network: 'host',
      env: env(),
    });
    for (const marker of ['START', `GOT ${canary}`, 'END']) expectMarker(host, marker);
  });

  it('cannot reach a host unix socket outside the grants, while one in the workdir works', async () => {
    const outside = await battery.dir('outside');
    const workdir = await battery.dir('wd');
    const hidden = path.join(outside, 'agent.sock');
    const granted = path.join(workdir, 'granted.sock');
    servers.push(await listen(canary, hidden), await listen('GRANTED-OK', granted));
    const result = await battery.run(
      `echo START; ${client(granted)}; ${client(hidden)}; [ -e ${hidden} ] && echo VISIBLE; echo END`,
      { workdir, env: env() },
    );
    for (const marker of ['START', 'GOT GRANTED-OK', 'END']) expectMarker(result, marker);
    expect(result.stdout).toContain(`CLIENT ENOENT ${hidden}`);
    expect(result.stdout).not.toContain(canary);
    expect(result.stdout).not.toContain('VISIBLE');
  });

  it('hides the Docker socket and /run of the host', async () => {
    const sockets = ['/var/run/docker.sock', '/run/docker.sock'];
    const result = await battery.run(
      `echo START; ls -A /run
       for s in ${sockets.join(' ')}; do [ -e "$s" ] && echo "VISIBLE $s"; ${client('"$s"')}; done; echo END`,
      { env: env() },
    );
    for (const marker of ['START', 'encage', 'END']) expectMarker(result, marker);
    expect(result.stdout).not.toContain('VISIBLE');
    expect(result.stdout).not.toContain('GOT ');
    // Meaningful where the host has a Docker socket (CI provisions dockerd).
    if (sockets.some((s) => existsSync(s)))
      expect(result.stdout).toContain('CLIENT ENOENT /var/run/docker.sock');
  });

  it('hides engine sockets when /run is granted, and keeps its scripts out of the host /run', async () => {
    const sockets = ['/var/run/docker.sock', '/run/docker.sock'].filter((s) => existsSync(s));
    const hostRunBefore = readdirSync('/run').sort();
    const result = await battery.run(
      `echo START; ls -A /run; sh /.encage/user.sh
       for s in ${sockets.join(' ')}; do [ -S "$s" ] && echo "SOCKET $s"; ${client('"$s"')}; done; echo END`,
      { env: env(), readOnly: ['/run'] },
      { scripts: [{ innerPath: 'user.sh', mode: 0o755, contents: 'echo USER-SCRIPT\n' }] },
    );
    // The host /run is what the grant shows; the instance's own scripts moved out of its way.
    for (const marker of ['START', 'USER-SCRIPT', 'END', ...hostRunBefore.slice(0, 3)])
      expectMarker(result, marker);
    expect(result.stdout).not.toContain('SOCKET ');
    expect(result.stdout).not.toContain('GOT ');
    // /run/docker.sock is masked by an empty file (connect is refused; unmasked, the engine
    // would accept and wait); /var/run is not granted, so it does not exist in the sandbox.
    for (const socket of sockets)
      expect(result.stdout).toMatch(new RegExp(`^CLIENT (ECONNREFUSED|ENOENT) ${socket}$`, 'm'));
    if (sockets.includes('/run/docker.sock'))
      expect(result.stdout).toContain('CLIENT ECONNREFUSED /run/docker.sock');
    expect(readdirSync('/run').sort()).toEqual(hostRunBefore);
  });
});
