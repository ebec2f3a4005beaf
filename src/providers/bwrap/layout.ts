import { lstatSync, readlinkSync } from 'node:fs';

/** Top-level system directories made visible read-only (whichever exist on the host). */
export const SYSTEM_DIRS = [
  '/usr',
  '/bin',
  '/sbin',
  '/lib',
  '/lib32',
  '/lib64',
  '/libx32',
  '/opt',
] as const;

/**
 * The only /etc entries made visible: what programs need to run, resolve names and verify TLS.
 * Secrets (shadow, gshadow, sudoers, ssh host keys, machine-id) stay out even for root.
 */
export const ETC_ALLOWLIST = [
  'alternatives',
  'ca-certificates',
  'ca-certificates.conf',
  'debian_version',
  'gai.conf',
  'group',
  'host.conf',
  'hosts',
  'inputrc',
  'ld.so.cache',
  'ld.so.conf',
  'ld.so.conf.d',
  'localtime',
  'magic',
  'mime.types',
  'nsswitch.conf',
  'os-release',
  'passwd',
  'profile',
  'protocols',
  'resolv.conf',
  'services',
  'ssl',
  'terminfo',
  'timezone',
] as const;

/** A host path as bwrap must recreate it: a symlink (e.g. merged-/usr `/bin -> usr/bin`) or a dir. */
export type HostEntry =
  { path: string; kind: 'symlink'; target: string } | { path: string; kind: 'dir' | 'file' };

/** Reads which system paths exist on this host and how; cached by the provider. */
export function readHostLayout(): HostEntry[] {
  const entries: HostEntry[] = [];
  const paths = [...SYSTEM_DIRS, ...ETC_ALLOWLIST.map((name) => `/etc/${name}`)];
  for (const path of paths) {
    try {
      // Absent on this host: nothing to show (and no exception built for it).
      const stats = lstatSync(path, { throwIfNoEntry: false });
      if (stats === undefined) continue;
      if (stats.isSymbolicLink())
        entries.push({ path, kind: 'symlink', target: readlinkSync(path) });
      else entries.push({ path, kind: stats.isDirectory() ? 'dir' : 'file' });
    } catch {
      // unreadable (EACCES...): not shown either
    }
  }
  return entries;
}
