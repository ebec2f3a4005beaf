/**
 * Pure seccomp-BPF generator for `bwrap --seccomp FD`, which reads a raw array of
 * `struct sock_filter` (u16 code, u8 jt, u8 jf, u32 k; native little-endian on x64 and arm64).
 */
import { EncageError } from '../../errors.js';
import { syscallNumber, type KnownSyscall, type SeccompArch } from './seccomp-syscalls.js';

export type { SeccompArch } from './seccomp-syscalls.js';

/** Syscalls that fail with EPERM inside the sandbox: debugging, kernel, key, mount and clock control. */
export const DENIED_SYSCALLS = [
  'ptrace',
  'process_vm_readv',
  'process_vm_writev',
  'kexec_load',
  'kexec_file_load',
  'init_module',
  'finit_module',
  'delete_module',
  'bpf',
  'perf_event_open',
  'keyctl',
  'add_key',
  'request_key',
  'userfaultfd',
  'io_uring_setup',
  'io_uring_enter',
  'io_uring_register',
  'mount',
  'umount2',
  'pivot_root',
  'swapon',
  'swapoff',
  'reboot',
  'open_by_handle_at',
  'name_to_handle_at',
  'fsopen',
  'fsmount',
  'fsconfig',
  'move_mount',
  'open_tree',
  'fspick',
  'setns',
  'acct',
  'quotactl',
  'lookup_dcookie',
  'syslog',
  'clock_settime',
  'settimeofday',
  'adjtimex',
  'clock_adjtime',
  // Its file mode hides in a struct the filter cannot read (see MODE_ARGUMENT).
  'openat2',
] as const satisfies readonly KnownSyscall[];

/**
 * Syscalls that take a file mode, by the index of that argument. A mode with set-user-ID or
 * set-group-ID bits gets EPERM: run as root, the sandbox could otherwise leave a setuid-root
 * program in the workdir for any host user to run.
 */
export const MODE_ARGUMENT = {
  chmod: 1,
  fchmod: 1,
  fchmodat: 2,
  fchmodat2: 2,
  creat: 1,
  open: 2,
  openat: 3,
  mknod: 1,
  mknodat: 2,
} as const satisfies Partial<Record<KnownSyscall, number>>;

/** S_ISUID | S_ISGID. */
export const SETID_MODE_BITS = 0o6000;

/** Filter return actions (linux/seccomp.h); ERRNO is or-ed with the errno in its low 16 bits. */
export const SECCOMP_RET = {
  KILL_PROCESS: 0x8000_0000,
  ERRNO: 0x0005_0000,
  ALLOW: 0x7fff_0000,
} as const;

/** errno returned for denied syscalls and ioctls. */
export const EPERM = 1;

/** `seccomp_data.arch` values (linux/audit.h) for the supported architectures. */
export const AUDIT_ARCH: Readonly<Record<SeccompArch, number>> = {
  x64: 0xc000_003e,
  arm64: 0xc000_00b7,
};

/** Set in `nr` by x32-ABI syscalls, which share AUDIT_ARCH_X86_64 and would dodge the number checks. */
export const X32_SYSCALL_BIT = 0x4000_0000;

/** ioctl requests that inject input into or take over a terminal the sandbox may share with the host. */
export const DENIED_IOCTLS = { TIOCSTI: 0x5412, TIOCLINUX: 0x541c } as const;

/** Size in bytes of one `struct sock_filter`. */
export const BPF_INSTRUCTION_BYTES = 8;

// Classic BPF opcodes (linux/filter.h): BPF_LD|BPF_W|BPF_ABS, BPF_JMP|BPF_JEQ|BPF_K, ..., BPF_RET|BPF_K.
const LD_W_ABS = 0x20;
const JEQ_K = 0x15;
const JGE_K = 0x35;
const JSET_K = 0x45;
const RET_K = 0x06;

// Byte offsets in struct seccomp_data; args[1] low word is at 24 because both arches are little-endian.
const NR_OFFSET = 0;
const ARCH_OFFSET = 4;
const argLowOffset = (index: number): number => 16 + 8 * index;
const ARG1_LOW_OFFSET = argLowOffset(1);

// jt/jf are u8, so no conditional jump may skip more than this many instructions.
const MAX_JUMP = 0xff;

type Label = 'arch-ok' | 'deny' | 'allow' | `not-${string}`;
type Target = Label | 'next';
type Step =
  | { readonly kind: 'label'; readonly name: Label }
  | { readonly kind: 'load'; readonly offset: number }
  | {
      readonly kind: 'jump';
      readonly code: number;
      readonly k: number;
      readonly jt: Target;
      readonly jf: Target;
    }
  | { readonly kind: 'ret'; readonly k: number };

/** Maps a Node `process.arch` value to a supported filter architecture, or undefined. */
export function seccompArchFor(nodeArch: string): SeccompArch | undefined {
  return nodeArch === 'x64' || nodeArch === 'arm64' ? nodeArch : undefined;
}

/**
 * Builds the filter program for `arch` (default: this process's): kills foreign-ABI callers,
 * returns EPERM for {@link DENIED_SYSCALLS}, x32 syscalls, set-id file modes ({@link MODE_ARGUMENT})
 * and TIOCSTI/TIOCLINUX ioctls, allows the rest.
 * @throws EncageError INVALID_ARGUMENT when `arch` is not supported.
 */
export function buildSeccompFilter(arch: string = process.arch): Buffer {
  const target = seccompArchFor(arch);
  if (target === undefined) {
    throw new EncageError('INVALID_ARGUMENT', `seccomp filter: unsupported architecture ${arch}`);
  }
  return assemble(filterSteps(target));
}

function filterSteps(arch: SeccompArch): Step[] {
  const jeq = (k: number, jt: Target, jf: Target): Step => ({
    kind: 'jump',
    code: JEQ_K,
    k,
    jt,
    jf,
  });
  const steps: Step[] = [
    { kind: 'load', offset: ARCH_OFFSET },
    jeq(AUDIT_ARCH[arch], 'arch-ok', 'next'),
    { kind: 'ret', k: SECCOMP_RET.KILL_PROCESS },
    { kind: 'label', name: 'arch-ok' },
    { kind: 'load', offset: NR_OFFSET },
  ];
  if (arch === 'x64') {
    steps.push({ kind: 'jump', code: JGE_K, k: X32_SYSCALL_BIT, jt: 'deny', jf: 'next' });
  }
  for (const name of DENIED_SYSCALLS) {
    const nr = syscallNumber(name, arch);
    if (nr !== undefined) steps.push(jeq(nr, 'deny', 'next'));
  }
  for (const [name, index] of Object.entries(MODE_ARGUMENT)) {
    const nr = syscallNumber(name as keyof typeof MODE_ARGUMENT, arch);
    if (nr === undefined) continue;
    const skip: Label = `not-${name}`;
    steps.push(
      jeq(nr, 'next', skip),
      { kind: 'load', offset: argLowOffset(index) },
      { kind: 'jump', code: JSET_K, k: SETID_MODE_BITS, jt: 'deny', jf: 'allow' },
      { kind: 'label', name: skip },
    );
  }
  const ioctl = syscallNumber('ioctl', arch);
  if (ioctl !== undefined) {
    steps.push(
      jeq(ioctl, 'next', 'allow'),
      { kind: 'load', offset: ARG1_LOW_OFFSET },
      jeq(DENIED_IOCTLS.TIOCSTI, 'deny', 'next'),
      jeq(DENIED_IOCTLS.TIOCLINUX, 'deny', 'allow'),
    );
  }
  steps.push(
    { kind: 'label', name: 'deny' },
    { kind: 'ret', k: SECCOMP_RET.ERRNO | EPERM },
    { kind: 'label', name: 'allow' },
    { kind: 'ret', k: SECCOMP_RET.ALLOW },
  );
  return steps;
}

/** Resolves labels to forward u8 offsets and encodes the instructions little-endian. */
function assemble(steps: readonly Step[]): Buffer {
  const labels = new Map<Label, number>();
  let count = 0;
  for (const step of steps) {
    if (step.kind === 'label') labels.set(step.name, count);
    else count += 1;
  }
  const out = Buffer.alloc(count * BPF_INSTRUCTION_BYTES);
  let index = 0;
  const offsetTo = (to: Target): number => {
    if (to === 'next') return 0;
    const at = labels.get(to);
    const skip = at === undefined ? -1 : at - index - 1;
    if (skip < 0 || skip > MAX_JUMP)
      throw new Error(`seccomp filter: bad jump to ${to} at ${index}`);
    return skip;
  };
  for (const step of steps) {
    if (step.kind === 'label') continue;
    const base = index * BPF_INSTRUCTION_BYTES;
    const [code, jt, jf, k] =
      step.kind === 'load'
        ? [LD_W_ABS, 0, 0, step.offset]
        : step.kind === 'ret'
          ? [RET_K, 0, 0, step.k]
          : [step.code, offsetTo(step.jt), offsetTo(step.jf), step.k];
    out.writeUInt16LE(code, base);
    out.writeUInt8(jt, base + 2);
    out.writeUInt8(jf, base + 3);
    out.writeUInt32LE(k >>> 0, base + 4);
    index += 1;
  }
  return out;
}
