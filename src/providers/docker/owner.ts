import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';

/** Container labels that say which encage process owns a container, for `encage gc`. */
export const LABEL_INSTANCE = 'encage.instance';
export const LABEL_OWNER_PID = 'encage.owner-pid';
export const LABEL_OWNER_START = 'encage.owner-start';
export const LABEL_OWNER_BOOT = 'encage.owner-boot';
export const LABEL_OWNER_HOST = 'encage.owner-host';
/** The owner's private host dir (scripts, masks); gc removes it with the container. */
export const LABEL_DIR = 'encage.dir';
/** User labels from `spec.labels` are kept as `encage.label.<name>`. */
export const USER_LABEL_PREFIX = 'encage.label.';

/** This boot's id: a pid is only meaningful within one boot. */
export function readBootId(): string {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  } catch {
    return '';
  }
}

/** A process's start time in clock ticks since boot (field 22 of /proc/PID/stat); guards pid reuse. */
export function readStartTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces and parens: count fields after the last ')'.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

/** Labels naming this process as the owner. */
export function ownerLabels(): Record<string, string> {
  return {
    [LABEL_OWNER_PID]: String(process.pid),
    [LABEL_OWNER_START]: readStartTime(process.pid) ?? '',
    [LABEL_OWNER_BOOT]: readBootId(),
    [LABEL_OWNER_HOST]: hostname(),
  };
}

export type Ownership = 'alive' | 'dead' | 'other-host';

/**
 * Whether the owner recorded in `labels` still runs. A container from another host is never
 * judged (its pid means nothing here); one from an earlier boot of this host is dead.
 */
export function judgeOwner(labels: Readonly<Record<string, string>>): Ownership {
  if ((labels[LABEL_OWNER_HOST] ?? '') !== hostname()) return 'other-host';
  if ((labels[LABEL_OWNER_BOOT] ?? '') !== readBootId()) return 'dead';
  const pid = Number(labels[LABEL_OWNER_PID]);
  if (!Number.isInteger(pid) || pid <= 0) return 'dead';
  const start = readStartTime(pid);
  if (start === undefined) return 'dead';
  const recorded = labels[LABEL_OWNER_START];
  return recorded === undefined || recorded === '' || recorded === start ? 'alive' : 'dead';
}
