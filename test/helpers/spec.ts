import type { Spec } from '../../src/spec.js';

/** A resolved Spec for unit tests of pure builders: no paths are checked on this host. */
export function resolvedSpec(provider: string, workdir: string, extra: Partial<Spec> = {}): Spec {
  return {
    provider,
    workdir,
    readOnly: [],
    readWrite: [],
    deny: [],
    network: 'none',
    env: { PATH: '/bin', HOME: '/home/sandbox' },
    limits: {},
    options: {},
    labels: {},
    ...extra,
  };
}
