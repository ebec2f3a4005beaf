import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { defaultEnv, entrypointScript } from 'encage';
import { spawnRaw } from './raw.js';

/**
 * What scriptdir does without encage: `/bin/sh` running the same generated entrypoint from a
 * file written once. The difference to Manager.run is encage's own work.
 */
export function createShellReference(cmd: string): {
  run: () => Promise<void>;
  remove: () => void;
} {
  const dir = mkdtempSync(path.join(tmpdir(), 'encage-bench-'));
  const script = entrypointScript(cmd, [], defaultEnv());
  const file = path.join(dir, 'entrypoint.sh');
  writeFileSync(file, script.contents, { mode: script.mode });
  return {
    run: () => spawnRaw('/bin/sh', [file], { cwd: process.cwd() }),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
