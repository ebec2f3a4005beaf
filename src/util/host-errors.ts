/** Errors of the host (space, descriptors, memory, a read-only or broken disk), not of the input. */
const HOST_ERRNOS = new Set(['ENOSPC', 'EDQUOT', 'EROFS', 'EIO', 'ENOMEM', 'EMFILE', 'ENFILE']);

/** The errno code of `error` when it is a host failure, else undefined. */
export function hostErrno(error: unknown): string | undefined {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  return typeof code === 'string' && HOST_ERRNOS.has(code) ? code : undefined;
}
