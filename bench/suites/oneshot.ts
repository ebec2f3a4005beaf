import { execa } from 'execa';
import { parseSpec, type Instance } from 'encage';
import type { BenchContext } from '../lib/context.js';
import { compareTimes, skipped } from '../lib/figure.js';
import { rawBwrapFrom, runRawBwrap, spawnRaw } from '../lib/raw.js';
import { createShellReference } from '../lib/scriptdir-ref.js';
import { interleave, progress, type Variant } from '../lib/stats.js';
import type { Figure, Target } from '../lib/types.js';

const TRUE = '/bin/true';
const GROUP = 'one-shot latency';
export const BWRAP_ONESHOT_TARGET: Target = { max: 1.5, text: '≤ 1.5× raw bwrap' };

/** Fails loudly when a sandboxed run did not succeed, so a broken run never looks fast. */
export function expectSuccess(result: { exitCode: number; stderr: string }, what: string): void {
  if (result.exitCode !== 0)
    throw new Error(
      `bench: ${what} exited ${result.exitCode}: ${result.stderr.trim().slice(0, 300)}`,
    );
}

/**
 * `/bin/true` through Manager.run against the same program started directly, interleaved:
 * scriptdir vs child_process and execa; bwrap vs bwrap with the provider's own argv and seccomp fd.
 */
export async function benchOneShot(ctx: BenchContext): Promise<Figure[]> {
  const { manager, settings } = ctx;
  const shell = createShellReference(TRUE);
  const variants: Variant[] = [
    {
      name: 'scriptdir',
      run: async () =>
        expectSuccess(await manager.run({ provider: 'scriptdir' }, TRUE), 'scriptdir'),
    },
    { name: 'spawn', run: () => spawnRaw(TRUE, []) },
    { name: 'execa', run: () => execa(TRUE, [], { env: {}, extendEnv: false, stdin: 'ignore' }) },
    { name: 'sh', run: shell.run },
  ];
  const bwrapWhy = ctx.unavailable.get('bwrap');
  let reference: Instance | undefined;
  if (bwrapWhy === undefined) {
    // A live instance lends its argv, scripts dir and seccomp file to the raw reference.
    const spec = parseSpec({ provider: 'bwrap' });
    reference = await manager.prepare(spec, [], { invocation: { cmd: TRUE, args: [] } });
    const command = reference.exec(TRUE, [], spec.env);
    const raw = rawBwrapFrom(command);
    variants.push(
      {
        name: 'bwrap',
        run: async () => expectSuccess(await manager.run({ provider: 'bwrap' }, TRUE), 'bwrap'),
      },
      { name: 'bwrap-raw', run: () => runRawBwrap(raw) },
      {
        name: 'bwrap-command',
        run: () =>
          spawnRaw(command.file, command.args, { env: { ...command.env }, cwd: command.cwd }),
      },
    );
  }
  progress(
    `one-shot: ${settings.oneShotRuns} interleaved rounds of ${variants.map((v) => v.name).join(', ')}`,
  );
  let samples: Map<string, number[]>;
  try {
    samples = await interleave(variants, settings.oneShotRuns);
  } finally {
    shell.remove();
    await reference?.teardown();
  }
  const get = (name: string): number[] => samples.get(name) ?? [];
  const figures: Figure[] = [
    compareTimes({
      id: 'oneshot.scriptdir.spawn',
      group: GROUP,
      label: 'scriptdir: Manager.run /bin/true',
      short: 'scriptdir vs spawn /bin/true',
      encage: get('scriptdir'),
      referenceLabel: 'child_process.spawn /bin/true',
      reference: get('spawn'),
      note: 'scriptdir runs the entrypoint with /bin/sh, which then execs the command',
    }),
    compareTimes({
      id: 'oneshot.scriptdir.execa',
      group: GROUP,
      label: 'scriptdir: Manager.run /bin/true',
      short: 'scriptdir vs execa /bin/true',
      encage: get('scriptdir'),
      referenceLabel: 'execa /bin/true',
      reference: get('execa'),
    }),
    compareTimes({
      id: 'oneshot.scriptdir.sh',
      group: GROUP,
      label: 'scriptdir: Manager.run /bin/true',
      short: 'scriptdir vs /bin/sh entrypoint',
      encage: get('scriptdir'),
      referenceLabel: '/bin/sh running the same entrypoint file (child_process)',
      reference: get('sh'),
      note: 'the same processes without encage: the difference is prepare, teardown, execa and the Manager',
    }),
  ];
  const bwrapLabel = 'bwrap: Manager.run /bin/true';
  if (bwrapWhy !== undefined) {
    figures.push(
      skipped(
        {
          id: 'oneshot.bwrap',
          group: GROUP,
          label: bwrapLabel,
          short: 'bwrap vs raw bwrap',
          target: BWRAP_ONESHOT_TARGET,
        },
        `bwrap unavailable: ${bwrapWhy}`,
      ),
    );
    return figures;
  }
  figures.push(
    compareTimes({
      id: 'oneshot.bwrap',
      group: GROUP,
      label: bwrapLabel,
      short: 'bwrap vs raw bwrap',
      encage: get('bwrap'),
      referenceLabel: 'bwrap, same argv + seccomp fd (child_process)',
      reference: get('bwrap-raw'),
      target: BWRAP_ONESHOT_TARGET,
    }),
    compareTimes({
      id: 'oneshot.bwrap.command',
      group: GROUP,
      label: "bwrap: the instance's Command alone (sh wrapper, no prepare/teardown/execa)",
      short: 'bwrap Command (sh wrapper) vs raw bwrap',
      encage: get('bwrap-command'),
      referenceLabel: 'bwrap, same argv + seccomp fd (child_process)',
      reference: get('bwrap-raw'),
      note: 'the cost of the /bin/sh wrapper that opens the seccomp fd and records the pid',
    }),
  );
  return figures;
}
