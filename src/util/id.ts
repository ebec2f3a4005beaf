import { randomBytes } from 'node:crypto';

const ID_BYTES = 6;

/** A short random instance id, e.g. `3f9a0c12b7e4`. */
export function createInstanceId(): string {
  return randomBytes(ID_BYTES).toString('hex');
}
