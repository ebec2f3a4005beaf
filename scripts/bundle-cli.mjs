// Bundles the CLI (dist/cli/main.js, compiled by tsc) into dist/bin/:
//   encage.cjs  the executable (package.json "bin"), a small loader: scripts/encage-bin.cjs
//   cli.cjs     the CLI and its dependencies in one CommonJS file
//   cli.cache   V8's code cache of cli.cjs, made after one warm-up run
// A new `encage` process then neither resolves ~300 modules (unbundled: ~1 ms each) nor parses
// and compiles ~240 KB of JavaScript: it reads one file and its compiled code. CommonJS because
// node 20 cannot give an ES module a code cache. The docker provider and `encage gc` stay behind
// dynamic imports, which esbuild turns into lazily run module bodies.
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { build } from 'esbuild';

const OUT = 'dist/bin';

/** Bundles manager/execa-cli.js in place of manager/execa.js (see that file). */
const cliLauncher = {
  name: 'cli-launcher',
  setup(build) {
    build.onResolve({ filter: /^\.\/execa\.js$/ }, (args) =>
      args.importer.endsWith(path.join('manager', 'launch.js'))
        ? { path: path.join(args.resolveDir, 'execa-cli.js') }
        : undefined,
    );
  },
};

rmSync(OUT, { recursive: true, force: true });

await build({
  entryPoints: ['dist/cli/main.js'],
  outfile: `${OUT}/cli.cjs`,
  bundle: true,
  format: 'cjs',
  platform: 'node',
  target: 'node20.19',
  minify: true,
  legalComments: 'none',
  logLevel: 'warning',
  plugins: [cliLauncher],
});
// The loader wraps the bundle in a function: a leading `#!` line would be a syntax error there.
const bundle = readFileSync(`${OUT}/cli.cjs`, 'utf8');
writeFileSync(`${OUT}/cli.cjs`, bundle.replace(/^#!.*\n/, ''));
copyFileSync('scripts/encage-bin.cjs', `${OUT}/encage.cjs`);
chmodSync(`${OUT}/encage.cjs`, 0o755);

// The cache holds the functions compiled so far: take it after a real run (noop: a host `true`),
// so the code of the run path is in it too. Made in a child: the same node, flags and wrapper.
const warmUp = `
const { writeFileSync } = require('node:fs');
const { script, run } = require('./${OUT}/encage.cjs').compileCli();
process.argv = [process.argv[0], 'encage', 'run', '-p', 'noop', '--', 'true'];
process.once('exit', () => writeFileSync('${OUT}/cli.cache', script.createCachedData()));
run();
`;
// V8 takes the cache only for the same source, node and flags: check that it does.
const verify = `
const { script } = require('./${OUT}/encage.cjs').compileCli();
if (script.cachedDataRejected !== false) throw new Error('V8 refused the code cache');
`;
try {
  execFileSync(process.execPath, ['-e', warmUp], { stdio: 'pipe' });
  execFileSync(process.execPath, ['-e', verify], { stdio: 'pipe' });
} catch (error) {
  // Only slower without it: the bin compiles the bundle as usual.
  const why = String(error.stderr ?? error.message)
    .trim()
    .split('\n')
    .at(-1);
  console.warn(`bundle-cli: no code cache written (${why}); the CLI starts ~8 ms slower`);
  rmSync(`${OUT}/cli.cache`, { force: true });
}
