import { EncageError } from '../errors.js';
import { EXIT_ENCAGE_FAILED } from '../manager/result.js';
import {
  collectGarbage,
  createEngine,
  parseDockerHost,
  type GcReport,
} from '../providers/docker/index.js';
import { DEFAULT_DOCKER_HOST, EngineError } from '../providers/docker/engine.js';

/**
 * `encage gc`: removes containers left by encage processes that died (crash, SIGKILL, reboot)
 * on this host, with their private dirs. Exit 0 when everything found was removed.
 */
export async function gcCommand(
  options: { json?: boolean },
  host = process.env.DOCKER_HOST ?? DEFAULT_DOCKER_HOST,
): Promise<number> {
  const parsed = parseDockerHost(host);
  if (!parsed.address) {
    throw new EncageError('INVALID_ARGUMENT', `DOCKER_HOST: ${parsed.why}.`, {
      path: 'DOCKER_HOST',
    });
  }
  let report: GcReport;
  try {
    report = await collectGarbage(createEngine(parsed.address));
  } catch (error) {
    const why = error instanceof EngineError ? error.message : String(error);
    throw new EncageError(
      'PROVIDER_UNAVAILABLE',
      `gc: cannot list containers at ${parsed.address.url} (${why}). Start dockerd or set DOCKER_HOST.`,
      { path: 'DOCKER_HOST', cause: error },
    );
  }
  if (options.json) {
    process.stdout.write(`${JSON.stringify(report)}\n`);
  } else {
    const names = report.removed.length > 0 ? `: ${report.removed.join(', ')}` : '';
    process.stdout.write(
      `removed ${report.removed.length} orphaned container(s)${names}; kept ${report.kept} (owner alive); ${report.otherHost} from other hosts\n`,
    );
    for (const { name, error } of report.failed)
      process.stderr.write(`encage: gc: cannot remove ${name}: ${error}\n`);
  }
  return report.failed.length > 0 ? EXIT_ENCAGE_FAILED : 0;
}
