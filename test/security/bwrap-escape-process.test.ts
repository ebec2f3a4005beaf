import { spawn, type ChildProcess } from 'node:child_process';
import { chmod, copyFile } from 'node:fs/promises';
import { closeSync, openSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_PATH } from '../../src/spec.js';
import { BWRAP_ENABLED } from '../helpers/backends.js';
import { createBattery, expectMarker, type Battery } from './battery.js';

const O_CLOEXEC = 0o2000000;
const VICTIM_SLEEP_S = 60;

/** Python inside the sandbox: `op(...)` prints "<name> ok" or "<name> <ERRNO>". */
const PY_SYSCALLS = `
import ctypes, errno, os, sys
libc = ctypes.CDLL(None, use_errno=True)
def report(name, r):
    print(name, 'ok' if r == 0 else errno.errorcode.get(ctypes.get_errno(), '?'), flush=True)
`;

/** fds of this process that a child inherits (no O_CLOEXEC): what any spawned child gets anyway. */
function inheritableFds(): string[] {
  return readdirSync('/proc/self/fd').filter((fd) => {
    try {
      const flags = /^flags:\s+(\d+)/m.exec(readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8'));
      return flags?.[1] !== undefined && (parseInt(flags[1], 8) & O_CLOEXEC) === 0;
    } catch {
      return false; // the fd readdir itself used
    }
  });
}

describe.runIf(BWRAP_ENABLED)('bwrap escape battery: processes and privileges', () => {
  let battery: Battery;
  let canary: string;
  const victims: ChildProcess[] = [];

  /** A host `sleep` the sandbox must neither see nor touch, with a canary in its environment. */
  function startVictim(): { pid: number; marker: string } {
    const marker = `${VICTIM_SLEEP_S}.${battery.nonce}1`;
    const victim = spawn('sleep', [marker], {
      stdio: 'ignore',
      env: { PATH: DEFAULT_PATH, ENCAGE_SEC_VICTIM_SECRET: canary },
    });
    victims.push(victim);
    if (victim.pid === undefined) throw new Error('victim did not start');
    return { pid: victim.pid, marker };
  }

  beforeAll(async () => {
    battery = await createBattery('proc');
    canary = `PROC-CANARY-${battery.nonce}`;
  });

  afterEach(() => {
    for (const victim of victims.splice(0)) victim.kill('SIGKILL');
  });

  afterAll(async () => {
    await battery?.close();
  });

  it('cannot see host processes, only its own', async () => {
    const victim = startVictim();
    const result = await battery.run(
      `echo START; ps -eo pid,args; [ -e /proc/${victim.pid} ] && echo "VISIBLE ${victim.pid}"
       [ -e /proc/${process.pid} ] && echo "VISIBLE ${process.pid}"; echo "COUNT $(ls -d /proc/[0-9]* | wc -l)"; echo END`,
    );
    for (const marker of ['START', 'END']) expectMarker(result, marker);
    const lines = result.stdout.split('\n');
    expect(result.stdout).toMatch(/^\s*1 /m);
    expect(result.stdout).toContain('ps -eo pid,args');
    expect(result.stdout).not.toContain(victim.marker);
    expect(result.stdout).not.toContain('vitest');
    // Host pids this large never exist in a fresh pid namespace running a few processes.
    if (victim.pid > 100) expect(lines).not.toContain(`VISIBLE ${victim.pid}`);
    if (process.pid > 100) expect(lines).not.toContain(`VISIBLE ${process.pid}`);
    const count = Number(/^COUNT (\d+)$/m.exec(result.stdout)?.[1]);
    expect(count).toBeLessThan(10);
  });

  it('cannot signal a host process, but can signal its own', async () => {
    const victim = startVictim();
    const result = await battery.run(
      `echo START; kill -9 ${victim.pid}; kill -0 ${victim.pid} && echo SIGNALLED
       sleep 30 & own=$!; kill -9 $own && echo KILLED-OWN; echo END`,
    );
    for (const marker of ['START', 'KILLED-OWN', 'END']) expectMarker(result, marker);
    expect(result.stdout).not.toContain('SIGNALLED');
    expect(victims.at(-1)?.exitCode).toBeNull();
    expect(victims.at(-1)?.signalCode).toBeNull();
    expect(() => process.kill(victim.pid, 0)).not.toThrow();
  });

  it('cannot read the environment of host processes', async () => {
    startVictim();
    const result = await battery.run(
      `echo START; for f in /proc/[0-9]*/environ; do tr '\\0' '\\n' < "$f"; done 2>/dev/null
       echo END`,
    );
    for (const marker of ['START', 'END']) expectMarker(result, marker);
    // The sandbox's own processes' environments were readable: the loop really ran.
    expect(result.stdout).toMatch(/^PATH=/m);
    expect(result.stdout).not.toContain(canary);
  });

  it('does not pass host environment variables into the sandbox', async () => {
    process.env.ENCAGE_SEC_HOST_SECRET = canary;
    try {
      const given = await battery.run('echo START; env; echo END', {
        env: { PATH: DEFAULT_PATH, GIVEN: 'GIVEN-OK' },
      });
      const defaults = await battery.run('echo START; env; echo END');
      for (const result of [given, defaults]) {
        for (const marker of ['START', 'END']) expectMarker(result, marker);
        expect(result.stdout).toMatch(/^PATH=/m);
        expect(result.stdout).not.toContain(canary);
        expect(result.stdout).not.toContain('ENCAGE_SEC_HOST_SECRET');
      }
      expectMarker(given, 'GIVEN=GIVEN-OK');
    } finally {
      delete process.env.ENCAGE_SEC_HOST_SECRET;
    }
  });

  it('opens no host file descriptors in the sandbox beyond stdio', async () => {
    const secretDir = await battery.dir('secret', { key: `${canary}\n` });
    const held = openSync(secretDir, 'r');
    try {
      const result = await battery.run(
        // A plain child (no pipe, no redirection): the listing is the shell's fds alone.
        `echo START; ls -l /proc/$$/fd
         for fd in $(ls /proc/$$/fd); do cat "/proc/$$/fd/$fd/key" 2>/dev/null; done; echo END`,
      );
      for (const marker of ['START', 'END']) expectMarker(result, marker);
      const inside = [...result.stdout.matchAll(/ (\d+) -> .*$/gm)].map((match) => match[1]);
      expect(inside).toEqual(expect.arrayContaining(['0', '1', '2']));
      // Only what this process itself inherited may pass (bwrap closes nothing); never encage's own.
      const allowed = new Set(['0', '1', '2', ...inheritableFds()]);
      expect(
        inside.filter((fd) => fd !== undefined && !allowed.has(fd)),
        result.stdout,
      ).toEqual([]);
      expect(result.stdout).not.toContain(secretDir);
      expect(result.stdout).not.toContain(canary);
    } finally {
      closeSync(held);
    }
  });

  it('drops every capability and sets no_new_privs, so a setuid binary gains nothing', async () => {
    const suid = await battery.dir('suid');
    await copyFile('/usr/bin/grep', path.join(suid, 'grep'));
    await chmod(path.join(suid, 'grep'), 0o4755);
    const status = '^(CapInh|CapPrm|CapEff|CapBnd|CapAmb|NoNewPrivs):';
    const result = await battery.run(
      `echo START; ls -l ${suid}/grep; grep -E '${status}' /proc/self/status
       ${suid}/grep -E '${status}' /proc/self/status | sed 's/^/SUID /'
       su -c 'echo SU-ESCALATED' root < /dev/null; echo END`,
      { readOnly: [suid] },
    );
    for (const marker of ['START', 'NoNewPrivs:\t1', 'SUID NoNewPrivs:\t1', 'END'])
      expectMarker(result, marker);
    expect(result.stdout).toMatch(/^-rws/m);
    for (const set of ['CapInh', 'CapPrm', 'CapEff', 'CapBnd', 'CapAmb']) {
      expectMarker(result, `${set}:\t0000000000000000`);
      expectMarker(result, `SUID ${set}:\t0000000000000000`);
    }
    expect(result.stdout).not.toContain('SU-ESCALATED');
  });

  it('cannot leave a setuid or setgid program in the workdir for the host', async () => {
    const workdir = await battery.dir('wd');
    const result = await battery.run(
      `echo START; cp /usr/bin/id ./plain && chmod 755 ./plain && echo CHMOD-OK
       cp /usr/bin/id ./suid; chmod 4755 ./suid; chmod u+s ./suid; chmod g+s ./suid
       cp -p /usr/bin/su ./su-copy; install -m 4755 /usr/bin/id ./installed
       python3 -c "
${PY_SYSCALLS}
for name, mode in (('created', 0o4755), ('created-sgid', 0o2755)):
    try:
        os.close(os.open(name, os.O_CREAT | os.O_WRONLY, mode))
    except OSError as e:
        print(name, errno.errorcode[e.errno])
report('mknod', libc.mknod(b'node', 0o104755, 0))
"; echo END`,
      { workdir },
    );
    for (const marker of ['START', 'CHMOD-OK', 'END']) expectMarker(result, marker);
    const setId = readdirSync(workdir).filter(
      (name) => (statSync(path.join(workdir, name)).mode & 0o6000) !== 0,
    );
    expect(setId).toEqual([]);
    expect(statSync(path.join(workdir, 'plain')).mode & 0o777).toBe(0o755);
  });

  it('cannot create a nested user namespace, mount, ptrace or write host sysctls', async () => {
    const readOnly = await battery.dir('ro', { 'file.txt': 'RO-OK\n' });
    const workdir = await battery.dir('wd', {
      'probe.py': `${PY_SYSCALLS}
import subprocess
CLONE_NEWUSER, CLONE_NEWNS = 0x10000000, 0x00020000
if sys.argv[1:] == ['nested']:
    # Full capabilities, but over a new user and mount namespace only.
    report('unshare', libc.unshare(CLONE_NEWUSER | CLONE_NEWNS))
    print('caps', open('/proc/self/status').read().split('CapEff:')[1].split()[0], flush=True)
os.makedirs('/tmp/m', exist_ok=True)
report('mount', libc.mount(b'none', b'/tmp/m', b'tmpfs', 0, None))
child = subprocess.Popen(['sleep', '30'])
print('child', 'alive' if child.poll() is None else 'gone', flush=True)
report('ptrace', libc.ptrace(16, child.pid, 0, 0))
child.kill()
print('core_pattern', open('/proc/sys/kernel/core_pattern').read().strip() != '', flush=True)
for path in ('/proc/sys/kernel/core_pattern', '/proc/sys/fs/lease-break-time', '/proc/sysrq-trigger'):
    try:
        os.close(os.open(path, os.O_WRONLY))
        print('opened', path, flush=True)
    except OSError as e:
        print('refused', path, errno.errorcode[e.errno], flush=True)
try:
    open('${readOnly}/file.txt', 'w')
    print('wrote-ro', flush=True)
except OSError as e:
    print('ro', errno.errorcode[e.errno], flush=True)
`,
    });
    const result = await battery.run(
      `echo START; cat ${readOnly}/file.txt; python3 probe.py | sed 's/^/OUTER /'
       python3 probe.py nested | sed 's/^/NESTED /'; unshare -Ur true && echo UNSHARE-ROOT-MAPPED
       mkdir -p /tmp/m2; mount -t tmpfs none /tmp/m2 && echo MOUNTED; echo END`,
      { workdir, readOnly: [readOnly] },
    );
    for (const marker of ['START', 'RO-OK', 'END']) expectMarker(result, marker);
    // --disable-userns: the nested attempt is refused and the probe goes on without capabilities.
    expect(result.stdout).toMatch(/^NESTED unshare E(NOSPC|PERM)$/m);
    expect(result.stdout).toMatch(/^NESTED caps 0{16}$/m);
    for (const scope of ['OUTER', 'NESTED']) {
      for (const marker of ['mount EPERM', 'child alive', 'ptrace EPERM', 'core_pattern True'])
        expectMarker(result, `${scope} ${marker}`);
      expect(result.stdout).toMatch(new RegExp(`^${scope} ro E(ROFS|ACCES|PERM)$`, 'm'));
    }
    expect(result.stdout).not.toContain('opened');
    expect(result.stdout).not.toContain('wrote-ro');
    expect(result.stdout).not.toContain('MOUNTED');
    expect(result.stdout).not.toContain('UNSHARE-ROOT-MAPPED');
    expect(readFileSync(path.join(readOnly, 'file.txt'), 'utf8')).toBe('RO-OK\n');
  });
});
