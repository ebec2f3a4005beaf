import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { BenchContext } from '../lib/context.js';
import { compareTimes, reasonOf, skipped } from '../lib/figure.js';
import { spawnRaw } from '../lib/raw.js';
import { interleave, progress, type Variant } from '../lib/stats.js';
import type { Figure, Target } from '../lib/types.js';

const GROUP = 'CLI end to end';
const SRT_PACKAGE = '@anthropic-ai/sandbox-runtime';
export const CLI_VS_SRT_TARGET: Target = { max: 1 / 3, text: '≤ 0.33 (3× faster than srt)' };

interface Srt {
  readonly script: string;
  readonly version: string;
  readonly note: string | undefined;
}

/** Finds srt in node_modules and checks that it can really run here; else says why. */
async function findSrt(root: string, env: NodeJS.ProcessEnv): Promise<Srt | string> {
  const dir = path.join(root, 'node_modules', SRT_PACKAGE);
  const manifestPath = path.join(dir, 'package.json');
  if (!existsSync(manifestPath))
    return `${SRT_PACKAGE} is not installed (npm i -D --save-exact ${SRT_PACKAGE}@<version>)`;
  const manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as {
    version: string;
    bin?: Record<string, string>;
    engines?: { node?: string };
  };
  const script = path.join(dir, manifest.bin?.srt ?? 'dist/cli.js');
  const wanted = manifest.engines?.node;
  const [major = 0, minor = 0] = process.versions.node.split('.').map(Number);
  const floor = /(\d+)\.(\d+)/.exec(wanted ?? '');
  const tooOld =
    floor !== null &&
    (major < Number(floor[1]) || (major === Number(floor[1]) && minor < Number(floor[2])));
  try {
    await spawnRaw(process.execPath, [script, '-c', 'true'], { env, cwd: root });
  } catch (error) {
    const engine = tooOld ? ` (it requires node ${wanted}; this is ${process.version})` : '';
    return `srt ${manifest.version} cannot run here${engine}: ${reasonOf(error).replace(/^bench: .*?failed \(\w+\): /, '')}`;
  }
  const note = tooOld
    ? `srt ${manifest.version} declares node ${wanted} but runs on ${process.version} for \`-c true\`; measured as is`
    : undefined;
  return { script, version: manifest.version, note };
}

/** `encage run -p bwrap -- true` as a new process, against bare node startup and srt. */
export async function benchCli(ctx: BenchContext): Promise<Figure[]> {
  const cli = path.join(ctx.root, 'dist', 'bin', 'encage.cjs');
  const env = { ...process.env };
  const label = 'CLI: encage run -p bwrap -- true (node dist/bin/encage.cjs)';
  const bwrapWhy = ctx.unavailable.get('bwrap');
  if (bwrapWhy !== undefined) {
    return [
      skipped(
        { id: 'cli.bwrap.node', group: GROUP, label, short: 'CLI vs node -e 0' },
        `bwrap unavailable: ${bwrapWhy}`,
      ),
      skipped(
        {
          id: 'cli.bwrap.srt',
          group: GROUP,
          label,
          short: 'CLI vs srt -c true',
          target: CLI_VS_SRT_TARGET,
        },
        `bwrap unavailable: ${bwrapWhy}`,
      ),
    ];
  }
  const srt = await findSrt(ctx.root, env);
  const variants: Variant[] = [
    {
      name: 'cli',
      run: () =>
        spawnRaw(process.execPath, [cli, 'run', '-p', 'bwrap', '--', 'true'], {
          env,
          cwd: ctx.root,
        }),
    },
    { name: 'node', run: () => spawnRaw(process.execPath, ['-e', '0'], { env, cwd: ctx.root }) },
  ];
  if (typeof srt !== 'string') {
    variants.push({
      name: 'srt',
      run: () => spawnRaw(process.execPath, [srt.script, '-c', 'true'], { env, cwd: ctx.root }),
    });
  }
  progress(
    `CLI: ${ctx.settings.cliRuns} interleaved rounds of ${variants.map((v) => v.name).join(', ')}`,
  );
  const samples = await interleave(variants, ctx.settings.cliRuns, 1);
  const get = (name: string): number[] => samples.get(name) ?? [];
  const figures: Figure[] = [
    compareTimes({
      id: 'cli.bwrap.node',
      group: GROUP,
      label,
      short: 'CLI vs node -e 0',
      encage: get('cli'),
      referenceLabel: 'node -e 0',
      reference: get('node'),
      note: 'the floor: starting node itself',
    }),
  ];
  const srtLabel = 'srt -c true (sandbox-runtime)';
  if (typeof srt === 'string') {
    figures.push(
      skipped(
        {
          id: 'cli.bwrap.srt',
          group: GROUP,
          label,
          short: 'CLI vs srt -c true',
          referenceLabel: srtLabel,
          target: CLI_VS_SRT_TARGET,
        },
        srt,
      ),
    );
  } else {
    figures.push(
      compareTimes({
        id: 'cli.bwrap.srt',
        group: GROUP,
        label,
        short: 'CLI vs srt -c true',
        encage: get('cli'),
        referenceLabel: `srt ${srt.version} -c true`,
        reference: get('srt'),
        target: CLI_VS_SRT_TARGET,
        ...(srt.note === undefined ? {} : { note: srt.note }),
      }),
    );
  }
  return figures;
}
