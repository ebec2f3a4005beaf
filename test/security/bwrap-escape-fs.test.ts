import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdir, rm, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_PATH } from '../../src/spec.js';
import { BWRAP_ENABLED } from '../helpers/backends.js';
import { createBattery, expectMarker, type Battery } from './battery.js';

describe.runIf(BWRAP_ENABLED)('bwrap escape battery: filesystem', () => {
  let battery: Battery;
  let canary: string;
  /** Host secrets outside every grant, each holding `canary`. */
  const secrets = { home: '', homeKey: '', root: '', etc: '', sshKey: '' };
  const created: string[] = [];

  beforeAll(async () => {
    battery = await createBattery('fs');
    canary = `CANARY-${battery.nonce}`;
    secrets.home = `/home/encage-victim-${battery.nonce}`;
    secrets.homeKey = path.join(secrets.home, '.ssh', 'id_rsa');
    secrets.root = `/root/.encage-canary-${battery.nonce}`;
    secrets.etc = `/etc/encage-canary-${battery.nonce}`;
    secrets.sshKey = `/etc/ssh/ssh_host_encage${battery.nonce}_key`;
    if (!existsSync('/etc/ssh')) {
      await mkdir('/etc/ssh');
      created.push('/etc/ssh');
    }
    await mkdir(path.dirname(secrets.homeKey), { recursive: true });
    created.push(secrets.home, secrets.root, secrets.etc, secrets.sshKey);
    for (const file of [secrets.homeKey, secrets.root, secrets.etc, secrets.sshKey])
      await writeFile(file, `${canary}\n`, { mode: 0o600 });
  });

  afterAll(async () => {
    for (const file of created.reverse()) await rm(file, { recursive: true, force: true });
    await battery?.close();
  });

  it('hides other homes, /root and /etc secrets while the workdir and allowlisted /etc stay readable', async () => {
    const workdir = await battery.dir('wd', { 'readme.txt': 'README-OK\n' });
    const probes = [
      secrets.home,
      secrets.homeKey,
      secrets.root,
      '/root',
      '/etc/shadow',
      '/etc/gshadow',
      '/etc/sudoers',
      secrets.etc,
      secrets.sshKey,
    ];
    const result = await battery.run(
      `echo START; cat readme.txt; grep -q '^root:' /etc/passwd && echo PASSWD-OK
       for f in ${probes.join(' ')}; do [ -e "$f" ] && echo "VISIBLE $f"; cat "$f" 2>/dev/null; done
       cat /etc/ssh/ssh_host_* 2>/dev/null; ls -A /home; echo END`,
      { workdir },
    );
    for (const marker of ['START', 'README-OK', 'PASSWD-OK', 'sandbox', 'END'])
      expectMarker(result, marker);
    expect(result.stdout).not.toContain('VISIBLE');
    expect(result.stdout).not.toContain(canary);
    expect(result.stdout).not.toContain('encage-victim');
    const shadowLine = readFileSync('/etc/shadow', 'utf8').split('\n')[0] ?? '';
    expect(shadowLine).not.toBe('');
    expect(result.stdout).not.toContain(shadowLine);
  });

  it('gives a HOME that names a host home, or /root, as a private and empty dir', async () => {
    for (const home of [secrets.home, '/root']) {
      const result = await battery.run(
        `echo START; ls -A "$HOME"; cat "$HOME"/.ssh/id_rsa "$HOME"/.encage-canary-* 2>/dev/null
         echo private > "$HOME/written-${battery.nonce}" && cat "$HOME/written-${battery.nonce}"; echo END`,
        { env: { PATH: DEFAULT_PATH, HOME: home } },
      );
      for (const marker of ['START', 'private', 'END']) expectMarker(result, marker);
      expect(result.stdout).not.toContain(canary);
      expect(result.stdout).not.toContain('.ssh');
      expect(existsSync(path.join(home, `written-${battery.nonce}`))).toBe(false);
    }
  });

  it('hides denied files, directories and symlinked paths while their siblings stay usable', async () => {
    const readOnly = await battery.dir('ro', { 'shared.txt': 'SHARED-OK\n', token: `${canary}\n` });
    const workdir = await battery.dir('wd', {
      '.env': `${canary}\n`,
      '.git/config': 'GITCONFIG-OK\n',
      '.git/hooks/pre-commit': `${canary}\n`,
      'config/secret.json': `${canary}\n`,
      'config/public.json': 'PUBLIC-OK\n',
    });
    await symlink('config/secret.json', path.join(workdir, 'secret-link'));
    const result = await battery.run(
      `echo START; cat .git/config config/public.json ${readOnly}/shared.txt
       for f in .env .git/hooks/pre-commit secret-link config/secret.json ${readOnly}/token; do
         cat "$f" 2>/dev/null && echo "READ $f"; done
       ls -A .git/hooks; echo END`,
      {
        workdir,
        readOnly: [readOnly],
        deny: ['.env', '.git/hooks', 'secret-link', `${readOnly}/token`],
      },
    );
    for (const marker of ['START', 'GITCONFIG-OK', 'PUBLIC-OK', 'SHARED-OK', 'END'])
      expectMarker(result, marker);
    expect(result.stdout).not.toContain(canary);
    expect(result.stdout).not.toContain('READ ');
  });

  it('cannot change or replace denied paths, even by renaming their parent directories', async () => {
    const workdir = await battery.dir('wd', {
      '.env': 'ORIGINAL-ENV\n',
      '.git/HEAD': 'ref: refs/heads/main\n',
      '.git/hooks/pre-commit': 'ORIGINAL-HOOK\n',
      'config/secret.json': 'ORIGINAL-SECRET\n',
    });
    const result = await battery.run(
      `echo START
       echo evil > .env; rm -f .env; mv .env env-moved; mv .git/hooks hooks-moved
       mv .git git-moved && mkdir -p .git/hooks && echo evil > .git/hooks/post-checkout
       mv config config-moved && mkdir config && echo evil > config/secret.json
       echo ok > .git/written && echo WROTE-GIT; echo END`,
      { workdir, deny: ['.env', '.git/hooks', 'config/secret.json'] },
    );
    for (const marker of ['START', 'WROTE-GIT', 'END']) expectMarker(result, marker);
    const read = (relative: string): string => readFileSync(path.join(workdir, relative), 'utf8');
    expect(read('.env')).toBe('ORIGINAL-ENV\n');
    expect(read('.git/hooks/pre-commit')).toBe('ORIGINAL-HOOK\n');
    expect(read('config/secret.json')).toBe('ORIGINAL-SECRET\n');
    expect(read('.git/written')).toBe('ok\n');
    expect(readdirSync(path.join(workdir, '.git', 'hooks'))).toEqual(['pre-commit']);
    // mv across mounts falls back to copying, which may leave a copy of the (masked) content.
    const entries = readdirSync(workdir, { recursive: true, encoding: 'utf8' });
    expect(entries).not.toContain('git-moved');
    expect(entries).not.toContain('config-moved');
    expect(entries.filter((entry) => entry.endsWith('pre-commit'))).toEqual([
      '.git/hooks/pre-commit',
    ]);
  });

  it('keeps /tmp private and leaves the host untouched outside the grants', async () => {
    const hostTmpCanary = `/tmp/encage-hostcanary-${battery.nonce}`;
    await writeFile(hostTmpCanary, `${canary}\n`);
    created.push(hostTmpCanary);
    const workdir = await battery.dir('wd');
    const outside = [
      `/tmp/encage-probe-${battery.nonce}`,
      `/usr/encage-probe-${battery.nonce}`,
      `/etc/encage-probe-${battery.nonce}`,
      `/encage-probe-${battery.nonce}`,
      path.join(battery.root, `encage-probe-${battery.nonce}`),
    ];
    const result = await battery.run(
      `echo START; echo PRIVATE-TMP > /tmp/mine && cat /tmp/mine
       ls -A /tmp; cat ${hostTmpCanary} 2>/dev/null
       for f in ${outside.join(' ')}; do echo x > "$f" 2>/dev/null; done
       echo x > /usr/encage-probe-${battery.nonce} 2>/dev/null && echo WROTE-USR
       echo ok > out.txt && echo END`,
      { workdir },
    );
    for (const marker of ['START', 'PRIVATE-TMP', 'END']) expectMarker(result, marker);
    expect(result.stdout).not.toContain(canary);
    expect(result.stdout).not.toContain('encage-hostcanary');
    expect(result.stdout).not.toContain('WROTE-USR');
    for (const file of outside) expect(existsSync(file), file).toBe(false);
    expect(readFileSync(path.join(workdir, 'out.txt'), 'utf8')).toBe('ok\n');
  });

  it('makes readOnly grants read-only and readWrite grants writable', async () => {
    const readOnly = await battery.dir('ro', { 'data.txt': 'RO-DATA\n' });
    const readWrite = await battery.dir('rw');
    const result = await battery.run(
      `echo START; cat ${readOnly}/data.txt
       echo evil > ${readOnly}/data.txt; rm -f ${readOnly}/data.txt; touch ${readOnly}/new
       mv ${readOnly}/data.txt ${readOnly}/moved; chmod 777 ${readOnly}/data.txt
       echo written > ${readWrite}/new.txt && echo RW-OK; echo END`,
      { readOnly: [readOnly], readWrite: [readWrite] },
    );
    for (const marker of ['START', 'RO-DATA', 'RW-OK', 'END']) expectMarker(result, marker);
    expect(readdirSync(readOnly)).toEqual(['data.txt']);
    expect(readFileSync(path.join(readOnly, 'data.txt'), 'utf8')).toBe('RO-DATA\n');
    expect(readFileSync(path.join(readWrite, 'new.txt'), 'utf8')).toBe('written\n');
  });

  it('cannot replace a readOnly grant nested in the workdir by renaming its parent', async () => {
    const workdir = await battery.dir('wd', { 'vendor/lib/code.js': 'ORIGINAL\n' });
    const result = await battery.run(
      `echo START; cat vendor/lib/code.js; mv vendor vendor-old; mv vendor/lib lib-old
       mkdir -p vendor/lib; echo evil > vendor/lib/code.js
       echo ok > vendor/sibling.txt && echo SIBLING-OK; echo END`,
      { workdir, readOnly: [path.join(workdir, 'vendor', 'lib')] },
    );
    for (const marker of ['START', 'ORIGINAL', 'SIBLING-OK', 'END']) expectMarker(result, marker);
    expect(readFileSync(path.join(workdir, 'vendor/lib/code.js'), 'utf8')).toBe('ORIGINAL\n');
    expect(readdirSync(workdir)).not.toContain('vendor-old');
  });

  it('does not follow workdir symlinks to host secrets outside the grants', async () => {
    const workdir = await battery.dir('wd', { 'readme.txt': 'README-OK\n' });
    await symlink(secrets.homeKey, path.join(workdir, 'ssh-key'));
    await symlink(secrets.root, path.join(workdir, 'root-canary'));
    await symlink('/etc/shadow', path.join(workdir, 'shadow'));
    await symlink('readme.txt', path.join(workdir, 'ok-link'));
    const result = await battery.run(
      `echo START; cat ok-link; ln -s ${secrets.etc} mine
       for l in ssh-key root-canary shadow mine; do cat "$l" 2>/dev/null && echo "FOLLOWED $l"; done
       echo END`,
      { workdir },
    );
    for (const marker of ['START', 'README-OK', 'END']) expectMarker(result, marker);
    expect(result.stdout).not.toContain(canary);
    expect(result.stdout).not.toContain('FOLLOWED');
  });

  it('cannot hard-link files from outside the workdir into it', async () => {
    const readOnly = await battery.dir('ro', { 'ro-file': 'RO\n' });
    const workdir = await battery.dir('wd', { 'readme.txt': 'README-OK\n' });
    const result = await battery.run(
      `echo START; ln readme.txt readme-link && cat readme-link
       ln /etc/shadow shadow; ln ${secrets.root} root-canary; ln ${readOnly}/ro-file ro-file
       ln /etc/passwd passwd; ln /usr/bin/passwd passwd-bin; echo END`,
      { workdir, readOnly: [readOnly] },
    );
    for (const marker of ['START', 'README-OK', 'END']) expectMarker(result, marker);
    expect(readdirSync(workdir).sort()).toEqual(['readme-link', 'readme.txt']);
  });

  it('refuses a script innerPath with a ".." segment before creating anything', async () => {
    const tmp = path.join(battery.root, 'tmp');
    const before = readdirSync(tmp);
    const workdir = await battery.dir('wd');
    for (const innerPath of ['../escape.sh', 'bin/../../escape.sh', '/etc/escape.sh']) {
      const run = battery.manager.run(
        { provider: 'bwrap', workdir },
        '/bin/sh',
        ['-c', 'echo RAN'],
        { scripts: [{ innerPath, mode: 0o755, contents: `${canary}\n` }] },
      );
      await expect(run, innerPath).rejects.toMatchObject({ code: 'INVALID_SCRIPT' });
    }
    expect(readdirSync(tmp)).toEqual(before);
    for (const file of [path.join(tmp, 'escape.sh'), path.join(battery.root, 'escape.sh')])
      expect(existsSync(file)).toBe(false);
    expect(existsSync('/etc/escape.sh')).toBe(false);
    const ok = await battery.run(
      'echo START; echo evil > /run/encage/bin/ok.sh; echo evil > /run/encage/new; cat /run/encage/bin/ok.sh',
      { workdir },
      { scripts: [{ innerPath: 'bin/ok.sh', mode: 0o755, contents: 'SCRIPT-OK\n' }] },
    );
    for (const marker of ['START', 'SCRIPT-OK']) expectMarker(ok, marker);
    expect(ok.stderr).toMatch(/Read-only file system/);
  });

  it('with "/" granted read-only: reads the host disk, yet /proc, /tmp, HOME and scripts stay private', async () => {
    const workdir = await battery.dir('wd');
    const hostTmpBefore = readdirSync('/tmp').sort();
    const result = await battery.run(
      `echo START; cat /etc/hostname >/dev/null && echo HOST-DISK; sh /tmp/.encage/user.sh
       echo x > /tmp/private-${battery.nonce} && echo TMP-WRITABLE
       echo x > "$HOME/h" && echo HOME-WRITABLE
       echo "PID1 $(head -c 5 /proc/1/cmdline)"
       ls /proc | grep -c '^[0-9]'
       echo y > /etc/encage-${battery.nonce} 2>/dev/null && echo WROTE-ETC; echo END`,
      { workdir, readOnly: ['/'], env: { PATH: DEFAULT_PATH, HOME: '/home/sandbox' } },
      { scripts: [{ innerPath: 'user.sh', mode: 0o755, contents: 'echo USER-SCRIPT\n' }] },
    );
    for (const marker of [
      'START',
      'HOST-DISK',
      'USER-SCRIPT',
      'TMP-WRITABLE',
      'HOME-WRITABLE',
      'END',
    ])
      expectMarker(result, marker);
    // A fresh /proc: its pid 1 is the sandbox's bwrap, and only a few pids exist.
    expect(result.stdout).toContain('PID1 bwrap');
    const pids = Number(result.stdout.split('\n').at(-3));
    expect(pids).toBeGreaterThan(0);
    expect(pids).toBeLessThan(10);
    expect(result.stdout).not.toContain('WROTE-ETC');
    expect(existsSync(`/etc/encage-${battery.nonce}`)).toBe(false);
    expect(readdirSync('/tmp').sort()).toEqual(hostTmpBefore);
  });
});
