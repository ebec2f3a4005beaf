import { closeSync, openSync, readSync } from 'node:fs';

const ID_BYTES = 6;

/**
 * A short random instance id, e.g. `3f9a0c12b7e4`, from the kernel's generator. node:crypto
 * (about 20 modules, ~3 ms of a CLI run) is loaded only when /dev/urandom cannot be read, e.g.
 * with every file descriptor taken.
 */
export function createInstanceId(): string {
  const bytes = Buffer.alloc(ID_BYTES);
  try {
    const fd = openSync('/dev/urandom', 'r');
    try {
      if (readSync(fd, bytes, 0, ID_BYTES, null) !== ID_BYTES) throw new Error('short read');
    } finally {
      closeSync(fd);
    }
  } catch {
    process.getBuiltinModule('node:crypto').randomFillSync(bytes);
  }
  return bytes.toString('hex');
}
