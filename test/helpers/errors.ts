import { isEncageError, type EncageError } from '../../src/errors.js';

/** The EncageError a promise rejects with; fails the test if it resolves or throws another error. */
export async function rejection(promise: Promise<unknown>): Promise<EncageError> {
  try {
    await promise;
  } catch (error) {
    if (isEncageError(error)) return error;
    throw error;
  }
  throw new Error('expected a rejection with an EncageError');
}

/** The EncageError a function throws; fails the test if it returns or throws another error. */
export function thrown(run: () => unknown): EncageError {
  try {
    run();
  } catch (error) {
    if (isEncageError(error)) return error;
    throw error;
  }
  throw new Error('expected a thrown EncageError');
}
