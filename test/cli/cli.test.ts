import { execa } from 'execa';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BWRAP_ENABLED } from '../helpers/backends.js';
import { DOCKER_ENABLED, TEST_IMAGE } from '../helpers/docker.js';

const CLI = fileURLToPath(new URL('../../dist/bin/encage.cjs', import.meta.url));

function encage(
  args: string[],
  options: { cwd?: string; env?: Record<string, string>; input?: string } = {},
) {
  return execa('node', [CLI, ...args], {
    reject: false,
    input: options.input ?? '',
    ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
    ...(options.env === undefined ? {} : { env: options.env }),
  });
}

describe('encage CLI', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'encage-cli-'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('runs a command through scriptdir with its arguments intact', async () => {
    const result = await encage(['run', '-p', 'scriptdir', '--', 'sh', '-c', 'echo hi "$0"', 'x']);
    expect(result.stdout).toBe('hi x');
    expect(result.exitCode).toBe(0);
  });

  it('exits with the command status, 128+N on a signal and 124 on timeout', async () => {
    expect((await encage(['run', '-p', 'noop', '--', 'sh', '-c', 'exit 7'])).exitCode).toBe(7);
    expect((await encage(['run', '-p', 'noop', '--', 'sh', '-c', 'kill -9 $$'])).exitCode).toBe(
      137,
    );
    const timeout = await encage([
      'run',
      '-p',
      'scriptdir',
      '--timeout',
      '200ms',
      '--',
      'sh',
      '-c',
      'echo started; sleep 30',
    ]);
    expect(timeout.stdout).toBe('started');
    expect(timeout.exitCode).toBe(124);
  });

  it.each([
    [['run', '-p', 'nope', '--', 'true'], 'unknown provider "nope"'],
    [['run', '-p', 'noop', '-C', '/definitely/missing', '--', 'true'], 'spec.workdir'],
    [['run', '-p', 'noop', '--timeout', 'soon', '--', 'true'], '--timeout: "soon" is not valid'],
    [['run', '-p', 'noop', '--memory', '12x', '--', 'true'], '--memory'],
    [['run', '-p', 'noop', '-e', '1BAD', '--', 'true'], '--env: "1BAD"'],
    [['run', '-p', 'noop', '-e', 'ENCAGE_SURELY_UNSET', '--', 'true'], 'not set on the host'],
    [['run', '-p', 'noop', '--deny', '.env', '--', 'true'], 'spec.deny'],
    [['run', '-p', 'noop', '--config', '/definitely/missing.json', '--', 'true'], '--config'],
    [['run', '-p', 'noop', '--bogus', '--', 'true'], "unknown option '--bogus'"],
    [['run', '-p', 'noop'], 'command'],
    [['run', '-p', 'noop', '--network', 'bogus', '--', 'true'], '--network: "bogus"'],
    [['run', '-p'], "'-p, --provider <value>' argument missing"],
    [['nope'], "unknown command 'nope'"],
    [[], 'Usage: encage <command>'],
  ])('fails with 125 and names the problem for %j', async (args, words) => {
    const result = await encage(args);
    expect(result.exitCode).toBe(125);
    expect(result.stderr).toContain(words);
  });

  it('takes options up to the command, and the rest as the command and its own flags', async () => {
    // No `--`: reading stops at `sh`, so `-e` and `--json` belong to the command.
    const result = await encage(['run', '-p', 'noop', 'sh', '-c', 'echo "$0 $1"', '-e', '--json']);
    expect(result.stdout).toBe('-e --json');
    expect(result.exitCode).toBe(0);
    const inline = await encage([
      'run',
      '-pnoop',
      '--env=GREETING=hi',
      'sh',
      '-c',
      'echo $GREETING',
    ]);
    expect(inline.stdout).toBe('hi');
  });

  it('starts from the code cache the build made, which this node accepts', async () => {
    // Without it every run compiles the bundle again (~10 ms): a silent slowdown, not an error.
    const check = await execa('node', [
      '-e',
      `const { script } = require(${JSON.stringify(CLI)}).compileCli();
       console.log(JSON.stringify({ given: script.cachedDataRejected !== undefined, rejected: script.cachedDataRejected }));`,
    ]);
    expect(JSON.parse(check.stdout)).toEqual({ given: true, rejected: false });
  });

  it('prints help on --help with status 0, and the options of run', async () => {
    const top = await encage(['--help']);
    expect(top.exitCode).toBe(0);
    expect(top.stdout).toContain('Usage: encage <command>');
    const run = await encage(['run', '--help']);
    expect(run.exitCode).toBe(0);
    expect(run.stdout).toContain('-p, --provider <name>');
    expect(run.stdout).toContain('--timeout <dur>');
  });

  it('reads a JSON config and lays flags over it', async () => {
    const config = path.join(dir, 'encage.json');
    await writeFile(
      config,
      JSON.stringify({ provider: 'noop', env: { GREETING: 'from-config', PATH: '/usr/bin:/bin' } }),
    );
    const result = await encage([
      'run',
      '--config',
      config,
      '-e',
      'EXTRA=flag',
      '--',
      'sh',
      '-c',
      'echo "$GREETING $EXTRA"',
    ]);
    expect(result.stdout).toBe('from-config flag');
    await writeFile(config, JSON.stringify({ provider: 'noop', colour: 'blue' }));
    const bad = await encage(['run', '--config', config, '--', 'true']);
    expect(bad.exitCode).toBe(125);
    expect(bad.stderr).toContain('unknown field(s) "colour"');
  });

  it('passes -e NAME from the host and nothing else', async () => {
    const env = { ...process.env, ENCAGE_PASSED: 'yes', ENCAGE_HIDDEN: 'secret' } as Record<
      string,
      string
    >;
    const result = await encage(['run', '-p', 'noop', '-e', 'ENCAGE_PASSED', '--', 'env'], { env });
    expect(result.stdout).toContain('ENCAGE_PASSED=yes');
    expect(result.stdout).not.toContain('secret');
  });

  it('prints one JSON result line with --json', async () => {
    const result = await encage([
      'run',
      '-p',
      'noop',
      '--json',
      '--',
      'sh',
      '-c',
      'echo out; exit 3',
    ]);
    const lines = result.stdout.split('\n');
    expect(lines[0]).toBe('out');
    expect(JSON.parse(lines[1] ?? '')).toMatchObject({
      exitCode: 3,
      timedOut: false,
      provider: 'noop',
    });
    expect(result.exitCode).toBe(3);
  });

  it('forwards SIGTERM to the command and exits with its status', async () => {
    const child = execa(
      'node',
      [
        CLI,
        'run',
        '-p',
        'noop',
        '--',
        'sh',
        '-c',
        'trap "echo got-term; exit 7" TERM; echo ready; while :; do sleep 0.05; done',
      ],
      {
        reject: false,
      },
    );
    child.stdout.once('data', () => child.kill('SIGTERM'));
    const result = await child;
    expect(result.stdout).toContain('got-term');
    expect(result.exitCode).toBe(7);
  });

  it('lists providers and reports on each with doctor --json', async () => {
    const providers = JSON.parse((await encage(['providers', '--json'])).stdout) as {
      name: string;
    }[];
    expect(providers.map((p) => p.name)).toEqual(
      expect.arrayContaining(['noop', 'scriptdir', 'bwrap']),
    );
    const doctor = JSON.parse((await encage(['doctor', '--json'])).stdout) as {
      name: string;
      available: boolean;
      reason: string;
    }[];
    expect(doctor.find((p) => p.name === 'noop')).toMatchObject({ available: true });
    for (const report of doctor) expect(report.reason.length).toBeGreaterThan(0);
  });

  describe.runIf(BWRAP_ENABLED)('with bwrap', () => {
    it('exits 125 with one line when the sandbox cannot start, and runs with room', async () => {
      const failed = await encage(['run', '-p', 'bwrap', '--pids', '1', '--', 'echo', 'ran'], {
        cwd: dir,
      });
      expect(failed.exitCode).toBe(125);
      expect(failed.stdout).toBe('');
      expect(failed.stderr).toContain('encage: [bwrap] the sandbox did not start');
      const ok = await encage(['run', '-p', 'bwrap', '--pids', '64', '--', 'echo', 'ran'], {
        cwd: dir,
      });
      expect(ok).toMatchObject({ exitCode: 0, stdout: 'ran' });
    });

    it('picks bwrap for auto, hides the host home and lists the workdir', async () => {
      await writeFile(path.join(dir, 'visible.txt'), 'x');
      const listing = await encage(['run', '--', 'ls', '.'], { cwd: dir });
      expect(listing.stdout).toContain('visible.txt');
      const secret = await encage(['run', '--', 'cat', '/root/.bashrc'], { cwd: dir });
      expect(secret.exitCode).not.toBe(0);
      expect(secret.stderr).toContain('No such file');
    });

    it('keeps a terminal a terminal', async () => {
      const result = await execa(
        'script',
        [
          '-qec',
          `node ${CLI} run -p bwrap -- sh -c 'test -t 0 && test -t 1 && echo is-a-tty'`,
          '/dev/null',
        ],
        {
          reject: false,
          cwd: dir,
        },
      );
      expect(result.stdout).toContain('is-a-tty');
      expect(result.exitCode).toBe(0);
    });
  });

  describe.runIf(DOCKER_ENABLED)('with docker', () => {
    it('runs as a non-root user by default and gc reports what it removed', async () => {
      const result = await encage([
        'run',
        '-p',
        'docker',
        '--image',
        TEST_IMAGE,
        '--',
        'sh',
        '-c',
        'id -u; echo ran',
      ]);
      expect(result.stdout).toMatch(/^\d+\nran$/);
      expect(result.stdout.split('\n')[0]).not.toBe('0');
      const gc = JSON.parse((await encage(['gc', '--json'])).stdout) as { removed: unknown };
      expect(gc).toHaveProperty('removed');
    });

    it('names a missing image and how to get it, with status 125', async () => {
      const result = await encage([
        'run',
        '-p',
        'docker',
        '--image',
        'encage-test/absent:nope',
        '--',
        'true',
      ]);
      expect(result.exitCode).toBe(125);
      expect(result.stderr).toContain('encage-test/absent:nope');
    });
  });
});
