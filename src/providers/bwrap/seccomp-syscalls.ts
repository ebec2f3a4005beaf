/**
 * Syscall numbers the seccomp filter needs, per architecture.
 * x64 from asm/unistd_64.h; arm64 from asm-generic/unistd.h (aarch64 uses the generic table).
 * A name missing on an architecture is simply left out of that architecture's column.
 */

/** Architectures the filter generator supports, named as Node's `process.arch` names them. */
export type SeccompArch = 'x64' | 'arm64';

/** One syscall's number on each supported architecture; absent where the syscall does not exist. */
export type SyscallNumbers = { readonly [A in SeccompArch]?: number };

/** Syscall numbers by name, for every syscall the filter mentions. */
export const SYSCALL_NUMBERS = {
  ioctl: { x64: 16, arm64: 29 },
  ptrace: { x64: 101, arm64: 117 },
  process_vm_readv: { x64: 310, arm64: 270 },
  process_vm_writev: { x64: 311, arm64: 271 },
  kexec_load: { x64: 246, arm64: 104 },
  kexec_file_load: { x64: 320, arm64: 294 },
  init_module: { x64: 175, arm64: 105 },
  finit_module: { x64: 313, arm64: 273 },
  delete_module: { x64: 176, arm64: 106 },
  bpf: { x64: 321, arm64: 280 },
  perf_event_open: { x64: 298, arm64: 241 },
  keyctl: { x64: 250, arm64: 219 },
  add_key: { x64: 248, arm64: 217 },
  request_key: { x64: 249, arm64: 218 },
  userfaultfd: { x64: 323, arm64: 282 },
  io_uring_setup: { x64: 425, arm64: 425 },
  io_uring_enter: { x64: 426, arm64: 426 },
  io_uring_register: { x64: 427, arm64: 427 },
  mount: { x64: 165, arm64: 40 },
  umount2: { x64: 166, arm64: 39 },
  pivot_root: { x64: 155, arm64: 41 },
  swapon: { x64: 167, arm64: 224 },
  swapoff: { x64: 168, arm64: 225 },
  reboot: { x64: 169, arm64: 142 },
  open_by_handle_at: { x64: 304, arm64: 265 },
  name_to_handle_at: { x64: 303, arm64: 264 },
  fsopen: { x64: 430, arm64: 430 },
  fsmount: { x64: 432, arm64: 432 },
  fsconfig: { x64: 431, arm64: 431 },
  move_mount: { x64: 429, arm64: 429 },
  open_tree: { x64: 428, arm64: 428 },
  fspick: { x64: 433, arm64: 433 },
  setns: { x64: 308, arm64: 268 },
  acct: { x64: 163, arm64: 89 },
  quotactl: { x64: 179, arm64: 60 },
  lookup_dcookie: { x64: 212, arm64: 18 },
  syslog: { x64: 103, arm64: 116 },
  clock_settime: { x64: 227, arm64: 112 },
  settimeofday: { x64: 164, arm64: 170 },
  adjtimex: { x64: 159, arm64: 171 },
  clock_adjtime: { x64: 305, arm64: 266 },
  openat2: { x64: 437, arm64: 437 },
  chmod: { x64: 90 },
  fchmod: { x64: 91, arm64: 52 },
  fchmodat: { x64: 268, arm64: 53 },
  fchmodat2: { x64: 452, arm64: 452 },
  creat: { x64: 85 },
  open: { x64: 2 },
  openat: { x64: 257, arm64: 56 },
  mknod: { x64: 133 },
  mknodat: { x64: 259, arm64: 33 },
} as const satisfies Record<string, SyscallNumbers>;

/** Any syscall name present in {@link SYSCALL_NUMBERS}. */
export type KnownSyscall = keyof typeof SYSCALL_NUMBERS;

/** The syscall's number on `arch`, or undefined when it does not exist there. */
export function syscallNumber(name: KnownSyscall, arch: SeccompArch): number | undefined {
  const numbers: SyscallNumbers = SYSCALL_NUMBERS[name];
  return numbers[arch];
}
