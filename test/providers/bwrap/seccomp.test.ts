import { spawn } from 'node:child_process';
import { existsSync, openSync, closeSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DENIED_SYSCALLS,
  MODE_ARGUMENT,
  buildSeccompFilter,
  seccompArchFor,
} from '../../../src/providers/bwrap/seccomp.js';
import { syscallNumber } from '../../../src/providers/bwrap/seccomp-syscalls.js';
import type { SeccompArch } from '../../../src/providers/bwrap/seccomp.js';

// Values written out independently of the generator so that a wrong constant there is caught here.
const RET_KILL_PROCESS = 0x8000_0000;
const RET_ERRNO_EPERM = 0x0005_0001;
const RET_ALLOW = 0x7fff_0000;
const AUDIT_ARCH_X86_64 = 0xc000_003e;
const AUDIT_ARCH_AARCH64 = 0xc000_00b7;
const AUDIT_ARCH_I386 = 0x4000_0003;
const AUDIT_ARCH_OF: Record<SeccompArch, number> = {
  x64: AUDIT_ARCH_X86_64,
  arm64: AUDIT_ARCH_AARCH64,
};
const TIOCSTI = 0x5412;
const TIOCLINUX = 0x541c;
const TCGETS = 0x5401;
const X32_BIT = 0x4000_0000;
const OP = { LD_W_ABS: 0x20, JEQ_K: 0x15, JGE_K: 0x35, JSET_K: 0x45, AND_K: 0x54, RET_K: 0x06 };
const ARCHES: readonly SeccompArch[] = ['x64', 'arm64'];

/** A few syscall numbers from the kernel headers, for scenarios that must not reuse the generator's table. */
interface TestNumbers {
  read: number;
  ioctl: number;
  getpid: number;
  clone: number;
  unshare: number;
  personality: number;
  ptrace: number;
  mount: number;
}
const NR: Record<SeccompArch, TestNumbers> = {
  x64: {
    read: 0,
    ioctl: 16,
    getpid: 39,
    clone: 56,
    unshare: 272,
    personality: 135,
    ptrace: 101,
    mount: 165,
  },
  arm64: {
    read: 63,
    ioctl: 29,
    getpid: 172,
    clone: 220,
    unshare: 97,
    personality: 92,
    ptrace: 117,
    mount: 40,
  },
};
const HEADERS: Record<SeccompArch, string> = {
  x64: '/usr/include/x86_64-linux-gnu/asm/unistd_64.h',
  arm64: '/usr/include/asm-generic/unistd.h',
};

interface Insn {
  code: number;
  jt: number;
  jf: number;
  k: number;
}

function decode(buf: Buffer): Insn[] {
  const out: Insn[] = [];
  for (let at = 0; at + 8 <= buf.length; at += 8) {
    out.push({
      code: buf.readUInt16LE(at),
      jt: buf[at + 2] ?? 0,
      jf: buf[at + 3] ?? 0,
      k: buf.readUInt32LE(at + 4),
    });
  }
  return out;
}

function at(prog: readonly Insn[], index: number): Insn {
  const insn = prog[index];
  if (insn === undefined) throw new Error(`no instruction at ${index}`);
  return insn;
}

/** struct seccomp_data: nr u32, arch u32, instruction_pointer u64, args[6] u64; little-endian. */
function seccompData(arch: number, nr: number, args: readonly bigint[] = []): Buffer {
  const data = Buffer.alloc(64);
  data.writeUInt32LE(nr >>> 0, 0);
  data.writeUInt32LE(arch >>> 0, 4);
  args.forEach((arg, i) => data.writeBigUInt64LE(arg, 16 + 8 * i));
  return data;
}

/** Minimal classic-BPF interpreter covering what a seccomp filter may use here; throws on anything else. */
function runBpf(prog: readonly Insn[], data: Buffer): number {
  let acc = 0;
  let pc = 0;
  for (let steps = 0; steps <= prog.length; steps += 1) {
    const { code, jt, jf, k } = at(prog, pc);
    pc += 1;
    switch (code) {
      case OP.LD_W_ABS:
        if (k % 4 !== 0 || k + 4 > data.length) throw new Error(`bad load offset ${k}`);
        acc = data.readUInt32LE(k);
        break;
      case OP.AND_K:
        acc = (acc & k) >>> 0;
        break;
      case OP.JEQ_K:
        pc += acc === k ? jt : jf;
        break;
      case OP.JGE_K:
        pc += acc >= k ? jt : jf;
        break;
      case OP.JSET_K:
        pc += (acc & k) !== 0 ? jt : jf;
        break;
      case OP.RET_K:
        return k;
      default:
        throw new Error(`unsupported opcode 0x${code.toString(16)} at ${pc - 1}`);
    }
  }
  throw new Error('program did not return');
}

function headerNumber(header: string, name: string): number | undefined {
  const match = new RegExp(`^#define __NR(?:3264)?_${name}\\s+(\\d+)\\s*$`, 'm').exec(header);
  return match?.[1] === undefined ? undefined : Number(match[1]);
}

describe.each(ARCHES)('buildSeccompFilter(%s) structure', (arch) => {
  const buf = buildSeccompFilter(arch);
  const prog = decode(buf);
  const run = (nr: number, args: readonly bigint[] = []): number =>
    runBpf(prog, seccompData(AUDIT_ARCH_OF[arch], nr, args));
  const jumpTarget = (index: number, taken: boolean): Insn => {
    const insn = at(prog, index);
    return at(prog, index + 1 + (taken ? insn.jt : insn.jf));
  };

  it('is a whole number of 8-byte instructions within BPF_MAXINSNS', () => {
    expect(buf.length % 8).toBe(0);
    expect(prog.length).toBeGreaterThan(5);
    expect(prog.length).toBeLessThanOrEqual(4096);
  });

  it('checks the architecture first and kills on mismatch', () => {
    expect(at(prog, 0)).toEqual({ code: OP.LD_W_ABS, jt: 0, jf: 0, k: 4 });
    expect(at(prog, 1)).toMatchObject({ code: OP.JEQ_K, k: AUDIT_ARCH_OF[arch] });
    expect(jumpTarget(1, false)).toEqual({ code: OP.RET_K, jt: 0, jf: 0, k: RET_KILL_PROCESS });
    expect(jumpTarget(1, true)).toEqual({ code: OP.LD_W_ABS, jt: 0, jf: 0, k: 0 });
  });

  it('keeps every jump inside the program and every path ending in a return', () => {
    prog.forEach((insn, index) => {
      if ((insn.code & 0x07) === 0x05) {
        expect(index + 1 + insn.jt).toBeLessThan(prog.length);
        expect(index + 1 + insn.jf).toBeLessThan(prog.length);
      }
    });
    expect(at(prog, prog.length - 1)).toEqual({ code: OP.RET_K, jt: 0, jf: 0, k: RET_ALLOW });
  });

  it('compares nr against each denied syscall and jumps to an EPERM return', () => {
    const header = existsSync(HEADERS[arch]) ? readFileSync(HEADERS[arch], 'utf8') : undefined;
    for (const name of DENIED_SYSCALLS) {
      const indices = prog.flatMap((insn, i) => (insn.code === OP.JEQ_K ? [i] : []));
      const expected = header === undefined ? undefined : headerNumber(header, name);
      if (header !== undefined) expect(expected, `${name} in ${HEADERS[arch]}`).toBeDefined();
      if (expected === undefined) continue;
      const hit = indices.find((i) => at(prog, i).k === expected);
      expect(hit, name).toBeDefined();
      expect(jumpTarget(hit ?? 0, true), name).toEqual({
        code: OP.RET_K,
        jt: 0,
        jf: 0,
        k: RET_ERRNO_EPERM,
      });
      expect(run(expected), name).toBe(RET_ERRNO_EPERM);
    }
  });

  it('checks the low word of ioctl args[1] against TIOCSTI and TIOCLINUX', () => {
    const ioctlAt = prog.findIndex((insn) => insn.code === OP.JEQ_K && insn.k === NR[arch].ioctl);
    expect(ioctlAt).toBeGreaterThan(0);
    expect(jumpTarget(ioctlAt, true)).toEqual({ code: OP.LD_W_ABS, jt: 0, jf: 0, k: 24 });
    for (const cmd of [TIOCSTI, TIOCLINUX]) {
      const cmp = prog.findIndex(
        (insn, i) => i > ioctlAt && insn.code === OP.JEQ_K && insn.k === cmd,
      );
      expect(cmp).toBeGreaterThan(ioctlAt);
      expect(jumpTarget(cmp, true).k).toBe(RET_ERRNO_EPERM);
    }
  });

  it('simulates the intended verdicts', () => {
    const nr = NR[arch];
    const ioctl = nr.ioctl;
    expect(run(nr.ptrace)).toBe(RET_ERRNO_EPERM);
    expect(run(nr.mount)).toBe(RET_ERRNO_EPERM);
    const allowed = ['read', 'getpid', 'clone', 'unshare', 'personality'] as const;
    for (const name of allowed) expect(run(nr[name]), name).toBe(RET_ALLOW);
    expect(run(ioctl, [3n, BigInt(TIOCSTI)])).toBe(RET_ERRNO_EPERM);
    expect(run(ioctl, [3n, BigInt(TIOCLINUX)])).toBe(RET_ERRNO_EPERM);
    // The kernel truncates the ioctl cmd to 32 bits, so junk in the high word must not slip past.
    expect(run(ioctl, [3n, (0xdeadn << 32n) | BigInt(TIOCSTI)])).toBe(RET_ERRNO_EPERM);
    expect(run(ioctl, [3n, BigInt(TCGETS)])).toBe(RET_ALLOW);
    expect(run(nr.read, [0n, BigInt(TIOCSTI)])).toBe(RET_ALLOW);
    expect(runBpf(prog, seccompData(AUDIT_ARCH_I386, nr.read))).toBe(RET_KILL_PROCESS);
    const otherArch = arch === 'x64' ? AUDIT_ARCH_AARCH64 : AUDIT_ARCH_X86_64;
    expect(runBpf(prog, seccompData(otherArch, nr.read))).toBe(RET_KILL_PROCESS);
  });

  it('refuses set-user-ID and set-group-ID file modes and allows plain ones', () => {
    for (const [name, index] of Object.entries(MODE_ARGUMENT)) {
      const nr = syscallNumber(name as keyof typeof MODE_ARGUMENT, arch);
      if (nr === undefined) continue; // e.g. chmod and open do not exist on arm64
      const withMode = (mode: number): bigint[] =>
        Array.from({ length: 4 }, (_, i) => (i === index ? BigInt(mode) : 3n));
      expect(run(nr, withMode(0o4755)), `${name} setuid`).toBe(RET_ERRNO_EPERM);
      expect(run(nr, withMode(0o2755)), `${name} setgid`).toBe(RET_ERRNO_EPERM);
      expect(run(nr, withMode(0o755)), `${name} plain`).toBe(RET_ALLOW);
      expect(run(nr, withMode(0o644)), `${name} plain file`).toBe(RET_ALLOW);
    }
  });

  it('returns only ALLOW or EPERM for the native ABI, EPERM for exactly the denied set', () => {
    let denied = 0;
    for (let nr = 0; nr < 1024; nr += 1) {
      const verdict = run(nr);
      expect([RET_ALLOW, RET_ERRNO_EPERM]).toContain(verdict);
      if (verdict === RET_ERRNO_EPERM) denied += 1;
    }
    expect(denied).toBe(DENIED_SYSCALLS.length);
  });
});

describe('buildSeccompFilter x32 and arguments', () => {
  it('denies x32-ABI syscall numbers on x64', () => {
    const prog = decode(buildSeccompFilter('x64'));
    expect(runBpf(prog, seccompData(AUDIT_ARCH_X86_64, X32_BIT | NR.x64.getpid))).toBe(
      RET_ERRNO_EPERM,
    );
    expect(runBpf(prog, seccompData(AUDIT_ARCH_X86_64, X32_BIT))).toBe(RET_ERRNO_EPERM);
    expect(runBpf(prog, seccompData(AUDIT_ARCH_X86_64, 0xffff_ffff))).toBe(RET_ERRNO_EPERM);
  });

  it('rejects unsupported architectures and maps Node arch names', () => {
    expect(() => buildSeccompFilter('ia32')).toThrow(/unsupported architecture/);
    expect(seccompArchFor('x64')).toBe('x64');
    expect(seccompArchFor('arm64')).toBe('arm64');
    expect(seccompArchFor('riscv64')).toBeUndefined();
  });

  it('is deterministic', () => {
    expect(buildSeccompFilter('x64').equals(buildSeccompFilter('x64'))).toBe(true);
  });
});

interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

const BWRAP = '/usr/bin/bwrap';
const PYTHON = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
const hostArch = seccompArchFor(process.arch);

// Prints a JSON verdict per probe: 'ok' or the errno name the syscall failed with.
const PROBE = `
import ctypes, errno, fcntl, json, os, sys
nr = json.loads(sys.argv[1])
libc = ctypes.CDLL(None, use_errno=True)
def name(e): return errno.errorcode.get(e, str(e))
def sc(n, *args):
    ctypes.set_errno(0)
    r = libc.syscall(ctypes.c_long(n), *[ctypes.c_long(a) for a in args])
    return 'ok' if r >= 0 else name(ctypes.get_errno())
def io(cmd):
    fd = os.open('/dev/null', os.O_RDWR)
    try:
        fcntl.ioctl(fd, cmd, bytes(64))
        return 'ok'
    except OSError as e:
        return name(e.errno)
    finally:
        os.close(fd)
ctypes.set_errno(0)
m = libc.mount(b'none', b'/tmp', b'tmpfs', ctypes.c_ulong(0), None)
print(json.dumps({
    'getpid': sc(nr['getpid']),
    'ptrace': sc(nr['ptrace'], 16, 4000000, 0, 0),
    'mount': 'ok' if m == 0 else name(ctypes.get_errno()),
    'tiocsti': io(0x5412),
    'tioclinux': io(0x541c),
    'tcgets': io(0x5401),
    'x32': sc(0x40000000 | nr['getpid']) if nr['x32'] else 'n/a',
}))
`;

function runBwrap(command: readonly string[], filterPath: string | undefined): Promise<RunResult> {
  const base = ['--ro-bind', '/', '/', '--dev', '/dev', '--proc', '/proc', '--unshare-all'];
  // CAP_SYS_ADMIN makes mount succeed without the filter, so a denial can only come from the filter.
  const args = [...base, '--die-with-parent', '--cap-add', 'CAP_SYS_ADMIN'];
  const fd = filterPath === undefined ? undefined : openSync(filterPath, 'r');
  if (fd !== undefined) args.push('--seccomp', '3');
  const child = spawn(BWRAP, [...args, '--', ...command], {
    stdio: ['ignore', 'pipe', 'pipe', fd ?? 'ignore'],
  });
  if (fd !== undefined) closeSync(fd);
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe.runIf(existsSync(BWRAP) || process.env.CI === 'true')('seccomp filter under bwrap', () => {
  let dir = '';
  let filterPath = '';
  let filtered: Record<string, string> = {};
  let unfiltered: Record<string, string> = {};

  beforeAll(async () => {
    if (hostArch === undefined) throw new Error(`no seccomp filter for ${process.arch}`);
    dir = await mkdtemp(join(tmpdir(), 'encage-seccomp-'));
    filterPath = join(dir, 'filter.bpf');
    await writeFile(filterPath, buildSeccompFilter(hostArch));
    const nr = JSON.stringify({ ...NR[hostArch], x32: hostArch === 'x64' });
    const parse = (result: RunResult): Record<string, string> => {
      expect(result.code, result.stderr).toBe(0);
      return JSON.parse(result.stdout) as Record<string, string>;
    };
    unfiltered = parse(await runBwrap([PYTHON, '-c', PROBE, nr], undefined));
    filtered = parse(await runBwrap([PYTHON, '-c', PROBE, nr], filterPath));
  });

  afterAll(async () => {
    if (dir !== '') await rm(dir, { recursive: true, force: true });
  });

  it('lets a plain program run', async () => {
    const result = await runBwrap(['/bin/true'], filterPath);
    expect(result).toMatchObject({ code: 0 });
    expect(filtered.getpid).toBe('ok');
  });

  it('makes the mount command fail with EPERM where it otherwise succeeds', async () => {
    const mount = ['mount', '-t', 'tmpfs', 'none', '/tmp'];
    expect(await runBwrap(mount, undefined)).toMatchObject({ code: 0 });
    const denied = await runBwrap(mount, filterPath);
    expect(denied.code).not.toBe(0);
    expect(denied.stderr).toMatch(/Operation not permitted|permission denied/i);
    expect(unfiltered.mount).toBe('ok');
    expect(filtered.mount).toBe('EPERM');
  });

  it('turns ptrace into EPERM (ESRCH without the filter)', () => {
    expect(unfiltered.ptrace).toBe('ESRCH');
    expect(filtered.ptrace).toBe('EPERM');
  });

  it('denies TIOCSTI and TIOCLINUX but not TCGETS', () => {
    expect(unfiltered).toMatchObject({ tiocsti: 'ENOTTY', tioclinux: 'ENOTTY', tcgets: 'ENOTTY' });
    expect(filtered).toMatchObject({ tiocsti: 'EPERM', tioclinux: 'EPERM', tcgets: 'ENOTTY' });
  });

  it.runIf(hostArch === 'x64')('denies x32-ABI syscalls', () => {
    expect(filtered.x32).toBe('EPERM');
  });
});
