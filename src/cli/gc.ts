import { existsSync } from 'node:fs';
import { EncageError } from '../errors.js';
import { collectHostGarbage, type HostGcReport } from '../host-gc.js';
import { EXIT_ENCAGE_FAILED } from '../manager/result.js';
import {
  collectGarbage,
  createEngine,
  parseDockerHost,
  type GcReport,
} from '../providers/docker/index.js';
import { DEFAULT_DOCKER_HOST, EngineError } from '../providers/docker/engine.js';
import { writeOut } from './output.js';

/**
 * `encage gc`: removes what encage processes that died (crash, SIGKILL, reboot) left on this
 * host: their containers with their private dirs, the temp dirs of their other instances and
 * bwrap's empty cgroups. Exit 0 when everything found was removed. Without DOCKER_HOST and
 * without a local engine socket the docker part is skipped, not an error.
 */
export async function gcCommand(
  options: { json?: boolean },
  host = process.env.DOCKER_HOST,
): Promise<number> {
  const local = await collectHostGarbage();
  const report: GcReport & { host: HostGcReport; docker?: string } =
    host === undefined && !existsSync(DEFAULT_DOCKER_HOST.slice('unix://'.length))
      ? { removed: [], kept: 0, otherHost: 0, failed: [], host: local, docker: 'no engine here' }
      : { ...(await dockerGarbage(host ?? DEFAULT_DOCKER_HOST)), host: local };
  if (options.json) {
    writeOut(`${JSON.stringify(report)}\n`);
  } else {
    const names = report.removed.length > 0 ? `: ${report.removed.join(', ')}` : '';
    writeOut(
      `removed ${report.removed.length} orphaned container(s)${names}; kept ${report.kept} (owner alive); ${report.otherHost} from other hosts\n` +
        `removed ${local.removedDirs.length} orphaned temp dir(s) and ${local.removedCgroups.length} empty cgroup(s); kept ${local.kept} (owner alive)\n`,
    );
    for (const { name, error } of report.failed)
      process.stderr.write(`encage: gc: cannot remove ${name}: ${error}\n`);
  }
  return report.failed.length > 0 ? EXIT_ENCAGE_FAILED : 0;
}

async function dockerGarbage(host: string): Promise<GcReport> {
  const parsed = parseDockerHost(host);
  if (!parsed.address) {
    throw new EncageError('INVALID_ARGUMENT', `DOCKER_HOST: ${parsed.why}.`, {
      path: 'DOCKER_HOST',
    });
  }
  try {
    return await collectGarbage(createEngine(parsed.address));
  } catch (error) {
    const why = error instanceof EngineError ? error.message : String(error);
    throw new EncageError(
      'PROVIDER_UNAVAILABLE',
      `gc: cannot list containers at ${parsed.address.url} (${why}). Start dockerd or set DOCKER_HOST.`,
      { path: 'DOCKER_HOST', cause: error },
    );
  }
}
