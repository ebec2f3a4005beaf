#!/usr/bin/env bash
# Build the rootfs of the test image encage-test/busybox:latest into a directory.
#
#   test/images/busybox-rootfs.sh OUTDIR
#
# OUTDIR must not exist or be empty. The rootfs holds a static busybox with one
# relative symlink per applet in /bin (sh, sleep, cat, id, env, true, ...),
# /etc/passwd and /etc/group with root (0) and sandbox (1000:1000, home
# /home/sandbox), /tmp and /var/tmp (1777) and empty mount points for
# /proc, /sys, /dev and /run. Run as root to get /home/sandbox owned by 1000;
# as non-root the ownership step is skipped (a warning goes to stderr).
#
# Needs the Debian package busybox-static (/bin/busybox); override with
# BUSYBOX=/path/to/static/busybox. scripts/provision.sh hashes this file and the
# busybox binary to decide when the docker image must be rebuilt, so any change
# here triggers a rebuild.
set -euo pipefail

out=${1:?usage: $0 OUTDIR}
busybox=${BUSYBOX:-/bin/busybox}

[ -x "$busybox" ] || { echo "busybox-rootfs: $busybox not found (apt-get install busybox-static)" >&2; exit 1; }
# A dynamic busybox would not run in the empty rootfs: ldd fails on static binaries.
if ldd "$busybox" >/dev/null 2>&1; then
  echo "busybox-rootfs: $busybox is not statically linked (install busybox-static)" >&2; exit 1
fi
if [ -e "$out" ] && [ -n "$(ls -A "$out")" ]; then
  echo "busybox-rootfs: $out exists and is not empty" >&2; exit 1
fi

umask 022
mkdir -p "$out"
cd "$out"
mkdir -p bin sbin usr/bin usr/sbin etc root home/sandbox tmp var/tmp proc sys dev run
chmod 0700 root
chmod 1777 tmp var/tmp

cp "$busybox" bin/busybox
chmod 0755 bin/busybox
# Same as `busybox --install -s` but into /bin only and with relative links,
# so the tree also reads correctly from outside (e.g. as a bwrap root).
for applet in $("$busybox" --list); do
  [ "$applet" = busybox ] && continue
  ln -s busybox "bin/$applet"
done
ln -s ../../bin/busybox usr/bin/env   # for `#!/usr/bin/env sh` scripts

cat > etc/passwd <<'PASSWD'
root:x:0:0:root:/root:/bin/sh
sandbox:x:1000:1000:sandbox:/home/sandbox:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
PASSWD
cat > etc/group <<'GROUP'
root:x:0:
sandbox:x:1000:
nogroup:x:65534:
GROUP
printf 'encage\n' > etc/hostname
: > etc/hosts
: > etc/resolv.conf

if [ "$(id -u)" = 0 ]; then
  chown 1000:1000 home/sandbox
else
  echo "busybox-rootfs: not root, /home/sandbox left owned by $(id -u)" >&2
fi
