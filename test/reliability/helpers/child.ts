import type { Readable } from 'node:stream';
import { existsSync } from 'node:fs';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const DIST = fileURLToPath(new URL('../../../dist/', import.meta.url));
/** The temp dir before any test pointed TMPDIR at its private one. */
const BASE_TMP = tmpdir();

/** file:// URL of a built module, e.g. `distUrl('index.js')`, for child scripts to import. */
export function distUrl(relative: string): string {
  const file = path.join(DIST, relative);
  if (!existsSync(file)) throw new Error(`${file} is missing: run "npm run build" first`);
  return pathToFileURL(file).href;
}

export const CLI_PATH = path.join(DIST, 'cli', 'main.js');

/** A scratch dir for child scripts, outside any TMPDIR a test scans. */
export function createScriptsDir(label: string): Promise<string> {
  return mkdtemp(path.join(BASE_TMP, `rel-${label}-scripts-`));
}

/** Writes an ESM child script; `{{name}}` placeholders become the built modules' URLs. */
export async function writeChildScript(dir: string, name: string, code: string): Promise<string> {
  const file = path.join(dir, `${name}.mjs`);
  const resolved = code
    .replaceAll('{{index}}', distUrl('index.js'))
    .replaceAll('{{bwrap}}', distUrl('providers/bwrap/index.js'))
    .replaceAll('{{docker}}', distUrl('providers/docker/index.js'));
  await writeFile(file, resolved);
  return file;
}

/** A running child whose stdout can be watched while execa still buffers it. */
export type WatchedChild = Promise<{ stderr: unknown }> & { stdout: Readable | null };

/** The child's first JSON line; listens without consuming, so the result keeps all of stdout. */
export function readyLine<T>(child: WatchedChild): Promise<T> {
  return new Promise((resolve, reject) => {
    let text = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      text += chunk.toString();
      const line = text.split('\n').find((entry) => entry.startsWith('{') && entry.endsWith('}'));
      if (line) resolve(JSON.parse(line) as T);
    });
    void child.then((result) =>
      reject(new Error(`the child ended before it was ready: ${String(result.stderr)}`)),
    );
  });
}
