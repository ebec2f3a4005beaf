import { execaSync } from 'execa';
import { requireBackend } from '../../src/testing/index.js';

function works(file: string, args: string[]): boolean {
  try {
    return execaSync(file, args, { reject: false, timeout: 10_000 }).exitCode === 0;
  } catch {
    return false;
  }
}

/** bwrap tests run when bwrap works here, and must run (and fail) in CI when it does not. */
export const BWRAP_ENABLED = requireBackend(
  'bwrap',
  works('bwrap', ['--unshare-all', '--ro-bind', '/', '/', 'true']),
);
