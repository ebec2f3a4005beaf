import type { Manager } from '../manager/manager.js';
import type { Availability, Capabilities } from '../provider.js';
import { writeOut } from './output.js';

interface ProviderReport {
  name: string;
  available: boolean;
  reason: string;
  isolation: number;
  enforces: string[];
  details: Record<string, string>;
}

/** Lists what each capability means in doctor's output. */
function enforced(capabilities: Capabilities): string[] {
  const list: string[] = [];
  if (capabilities.filesystem) list.push('filesystem');
  if (capabilities.network) list.push('network');
  if (capabilities.seccomp) list.push('seccomp');
  list.push(...capabilities.limits);
  if (capabilities.killsTree) list.push('kills-tree');
  if (capabilities.tty) list.push('tty');
  return list;
}

/** Probes every provider (for real) and reports availability, reason and enforcement. */
export async function collectReports(manager: Manager): Promise<ProviderReport[]> {
  return Promise.all(
    manager.providers().map(async (provider) => {
      let availability: Availability;
      try {
        availability = await provider.check();
      } catch (error) {
        availability = { available: false, reason: `check failed: ${(error as Error).message}` };
      }
      return {
        name: provider.name,
        available: availability.available,
        reason: availability.reason,
        isolation: provider.capabilities.isolation,
        enforces: enforced(provider.capabilities),
        details: { ...availability.details },
      };
    }),
  );
}

/** `encage doctor` and `encage providers`. */
export async function doctorCommand(
  manager: Manager,
  options: { json?: boolean; probe: boolean },
): Promise<number> {
  const reports: (Partial<ProviderReport> &
    Pick<ProviderReport, 'name' | 'isolation' | 'enforces'>)[] = options.probe
    ? await collectReports(manager)
    : manager.providers().map((p) => ({
        name: p.name,
        isolation: p.capabilities.isolation,
        enforces: enforced(p.capabilities),
      }));
  if (options.json) {
    writeOut(`${JSON.stringify(reports)}\n`);
    return 0;
  }
  for (const report of reports) {
    const status =
      report.available === undefined ? '' : report.available ? 'available    ' : 'unavailable  ';
    const enforces = report.enforces.length ? report.enforces.join(', ') : 'nothing (no isolation)';
    writeOut(
      `${report.name.padEnd(10)} ${status}isolation ${report.isolation}  enforces: ${enforces}\n`,
    );
    if (report.reason !== undefined) writeOut(`           ${report.reason}\n`);
    for (const [key, value] of Object.entries(report.details ?? {}))
      writeOut(`           ${key}: ${value}\n`);
  }
  return 0;
}
