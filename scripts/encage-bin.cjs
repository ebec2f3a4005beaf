#!/usr/bin/env node
// The `encage` executable (copied to dist/bin/encage.cjs by scripts/bundle-cli.mjs). It runs the
// bundled CLI (cli.cjs) from the V8 code cache made at build time (cli.cache), so a new process
// neither parses nor compiles the bundle again. Node 20 has no compile cache of its own, and ES
// modules cannot use one, which is why this file and the bundle are CommonJS.
//
// A cache V8 refuses (another node version, other V8 flags, a changed bundle) is ignored: the
// bundle is compiled as usual. The cache sits beside the code it was made from and is trusted as
// that code is; nothing here reads or writes outside this directory.
'use strict';
const { readFileSync } = require('node:fs');
const path = require('node:path');
const vm = require('node:vm');

const BUNDLE = path.join(__dirname, 'cli.cjs');
const CACHE = path.join(__dirname, 'cli.cache');

/** Compiles the bundle as a CommonJS module body, with the build-time code cache if V8 takes it. */
function compileCli() {
  let cachedData;
  try {
    cachedData = readFileSync(CACHE);
  } catch {
    cachedData = undefined; // no cache: compile as usual
  }
  const source = readFileSync(BUNDLE, 'utf8');
  const wrapped = `(function (exports, require, module, __filename, __dirname) {${source}\n})`;
  const script = new vm.Script(wrapped, { filename: BUNDLE, cachedData });
  const run = () => {
    const cli = { exports: {} };
    script.runInThisContext()(cli.exports, require, cli, BUNDLE, __dirname);
  };
  return { script, run };
}

if (require.main === module) compileCli().run();
else module.exports = { compileCli };
