import { EncageError } from './errors.js';
import type { Capabilities, EnforcedLimit } from './provider.js';
import type { Spec } from './spec.js';

const ENFORCED_LIMITS: readonly EnforcedLimit[] = ['memoryBytes', 'pids', 'cpus'];

/**
 * Refuses a spec asking for what the provider cannot enforce. Providers that isolate nothing
 * (isolation 0) are chosen by name only and run with the host's network; they still refuse
 * `deny` paths and resource limits rather than silently ignoring them.
 */
export function assertSupported(name: string, capabilities: Capabilities, spec: Spec): void {
  const refuse = (field: string, what: string): never => {
    throw new EncageError(
      'UNSUPPORTED_SPEC',
      `[${name}] ${field}: this provider cannot enforce ${what}. Remove it or choose an isolating provider (bwrap, docker).`,
      { path: field },
    );
  };
  if (!capabilities.filesystem) {
    if (spec.deny.length > 0) refuse('spec.deny', 'hidden paths');
  }
  if (!capabilities.network && spec.network === 'none' && capabilities.isolation > 0) {
    refuse('spec.network', 'network "none"');
  }
  for (const limit of ENFORCED_LIMITS) {
    if (spec.limits[limit] !== undefined && !capabilities.limits.includes(limit)) {
      refuse(`spec.limits.${limit}`, limit);
    }
  }
}
