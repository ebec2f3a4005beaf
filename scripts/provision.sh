#!/usr/bin/env bash
# Provision this machine for encage's sandbox providers and their tests.
#
#   scripts/provision.sh          install + configure + start dockerd + build test images
#   scripts/provision.sh --stop   stop the dockerd that this script started (nothing else)
#
# Idempotent: safe to run again; each step only acts when something is missing
# or out of date. Must run as root (CI's .ci/run does; so do developers here).
#
# Steps:
#  1. apt packages bubblewrap docker.io runsc busybox-static iproute2, and ripgrep socat
#     (what sandbox-runtime's `srt` needs for `npm run bench`'s reference)
#     (apt-get update only when one of them is missing).
#  2. gVisor registered as docker runtime "runsc" in /etc/docker/daemon.json,
#     merged into whatever the file already holds.
#  3. dockerd started in the background when nothing answers on
#     /var/run/docker.sock (log /var/log/encage-dockerd.log, pid in
#     /run/encage-dockerd.pid); a running daemon reloads the runtime config.
#  4. Test image encage-test/busybox:latest built offline from
#     test/images/busybox-rootfs.sh, rebuilt only when the recipe changed.
#  5. Smoke test: `docker run --rm` with runc and with runsc, bwrap; summary.
#
# Environment knobs (all optional):
#   ENCAGE_DOCKERD_FLAGS   extra flags for dockerd (default: none needed here)
#   ENCAGE_RUNSC_ARGS      runtimeArgs for runsc, space separated
#                          (default: "--network=none")
#   ENCAGE_DOCKER_DAEMON_JSON  daemon config path (default /etc/docker/daemon.json)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PACKAGES=(bubblewrap docker.io runsc busybox-static iproute2 ripgrep socat)
DAEMON_JSON=${ENCAGE_DOCKER_DAEMON_JSON:-/etc/docker/daemon.json}
PIDFILE=/run/encage-dockerd.pid
DOCKERD_LOG=/var/log/encage-dockerd.log
SOCK=/var/run/docker.sock
read -r -a DOCKERD_FLAGS <<<"${ENCAGE_DOCKERD_FLAGS:-}"
read -r -a RUNSC_ARGS <<<"${ENCAGE_RUNSC_ARGS:---network=none}"
BUSYBOX_IMAGE=encage-test/busybox:latest
BUSYBOX_RECIPE=$ROOT/test/images/busybox-rootfs.sh
BUSYBOX_BIN=/bin/busybox
BUSYBOX_CHANGES=(
  'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'
  'CMD ["/bin/sh"]'
)

export DOCKER_HOST=unix://$SOCK
export DEBIAN_FRONTEND=noninteractive
export NEEDRESTART_SUSPEND=1   # needrestart (if installed) would only add noise

log() { printf '[provision] %s\n' "$*"; }
warn() { printf '[provision] WARNING: %s\n' "$*" >&2; }
die() { printf '[provision] ERROR: %s\n' "$*" >&2; exit 1; }

# ---------------------------------------------------------------- helpers

# True if the process exists and is not a zombie (PID 1 here may reap late).
alive() {
  local st
  st=$(sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1) || return 1
  [ -n "$st" ] && [ "$st" != Z ] && [ "$st" != X ]
}

# pid of a live dockerd read from a pid file, or fail.
dockerd_pid_from() {
  local file=$1 pid
  [ -r "$file" ] || return 1
  pid=$(tr -dc '0-9' <"$file")
  [ -n "$pid" ] || return 1
  [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = dockerd ] || return 1
  alive "$pid" || return 1
  echo "$pid"
}

our_dockerd_pid() { dockerd_pid_from "$PIDFILE"; }

engine_up() { timeout 10 docker version --format '{{.Server.Version}}' >/dev/null 2>&1; }

# ---------------------------------------------------------------- --stop

stop_dockerd() {
  local pid i
  if ! pid=$(our_dockerd_pid); then
    log "no dockerd started by provision.sh is running"
    rm -f "$PIDFILE"
    return 0
  fi
  log "stopping dockerd (pid $pid)"
  kill -TERM "$pid"
  for i in $(seq 60); do
    alive "$pid" || break
    sleep 0.5
  done
  if alive "$pid"; then
    warn "dockerd $pid still running after 30 s, sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$PIDFILE"
  log "dockerd stopped"
}

# ---------------------------------------------------------------- 1. packages

# dpkg's own verdict (what `dpkg -s` shows as Status), not `command -v`: e.g.
# /usr/local/bin/docker may exist without the docker.io package. (Not
# `dpkg -s | grep -q`: grep -q exits early, dpkg gets SIGPIPE, and pipefail
# turns that into a false "missing".)
pkg_installed() {
  [ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null || true)" = "install ok installed" ]
}

install_packages() {
  local missing=() p
  for p in "${PACKAGES[@]}"; do
    pkg_installed "$p" || missing+=("$p")
  done
  if [ ${#missing[@]} -eq 0 ]; then
    log "packages present: ${PACKAGES[*]}"
    return 0
  fi
  log "installing: ${missing[*]}"
  apt-get -o DPkg::Lock::Timeout=300 update -qq
  apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends "${missing[@]}"
  for p in "${missing[@]}"; do
    pkg_installed "$p" || die "package $p did not install"
  done
}

# ---------------------------------------------------------------- 2. daemon.json

RUNSC_PATH=
# Prints "changed" or "unchanged". Needs RUNSC_PATH set.
configure_runtime() {
  mkdir -p "$(dirname "$DAEMON_JSON")"
  RUNSC_PATH=$RUNSC_PATH DAEMON_JSON=$DAEMON_JSON node - "${RUNSC_ARGS[@]}" <<'JS'
const fs = require('fs');
const file = process.env.DAEMON_JSON;
const runsc = { path: process.env.RUNSC_PATH, runtimeArgs: process.argv.slice(2) };
let text = '';
try { text = fs.readFileSync(file, 'utf8'); } catch (e) { if (e.code !== 'ENOENT') throw e; }
let cfg = {};
if (text.trim() !== '') {
  try { cfg = JSON.parse(text); } catch (e) {
    console.error(`[provision] ERROR: ${file} is not valid JSON (${e.message}); fix it by hand`);
    process.exit(1);
  }
  if (cfg === null || typeof cfg !== 'object' || Array.isArray(cfg)) {
    console.error(`[provision] ERROR: ${file} does not hold a JSON object`);
    process.exit(1);
  }
}
const canon = (v) => Array.isArray(v) ? v.map(canon)
  : v && typeof v === 'object' ? Object.fromEntries(Object.keys(v).sort().map((k) => [k, canon(v[k])]))
  : v;
const merged = { ...cfg, runtimes: { ...(cfg.runtimes || {}), runsc } };
if (JSON.stringify(canon(merged)) === JSON.stringify(canon(cfg))) {
  console.log('unchanged');
} else {
  const tmp = `${file}.tmp.${process.pid}`;
  fs.writeFileSync(tmp, JSON.stringify(merged, null, 2) + '\n', { mode: 0o644 });
  fs.renameSync(tmp, file);
  console.log('changed');
}
JS
}

# The runsc entry dockerd currently knows, as compact JSON (empty if none).
live_runsc_runtime() {
  docker info --format '{{json .Runtimes.runsc}}' 2>/dev/null | grep -v '^null$' || true
}

runtime_matches() {
  local live want
  live=$(live_runsc_runtime)
  [ -n "$live" ] || return 1
  want=$(RUNSC_PATH=$RUNSC_PATH node -e \
    'console.log(JSON.stringify({path: process.env.RUNSC_PATH, runtimeArgs: process.argv.slice(1)}))' \
    -- "${RUNSC_ARGS[@]}")
  LIVE=$live WANT=$want node -e '
    const a = JSON.parse(process.env.LIVE), b = JSON.parse(process.env.WANT);
    process.exit(a.path === b.path && JSON.stringify(a.runtimeArgs || []) === JSON.stringify(b.runtimeArgs) ? 0 : 1);'
}

# ---------------------------------------------------------------- 3. dockerd

start_dockerd() {
  local pid stale i
  command -v dockerd >/dev/null || die "dockerd not found (package docker.io)"
  # A dockerd killed without cleanup (e.g. at the end of a session) leaves its
  # pid file behind; dockerd refuses to start if that pid is alive again.
  if [ -e /var/run/docker.pid ] && ! dockerd_pid_from /var/run/docker.pid >/dev/null; then
    stale=$(cat /var/run/docker.pid 2>/dev/null || true)
    log "removing stale /var/run/docker.pid ($stale)"
    rm -f /var/run/docker.pid
  fi
  # Same for the containerd that dockerd runs: dockerd waits on a pid it finds
  # there (even a zombie's) and gives up with "timeout waiting for containerd".
  local cpidfile=/var/run/docker/containerd/containerd.pid cpid
  if [ -e "$cpidfile" ]; then
    cpid=$(tr -dc '0-9' <"$cpidfile" 2>/dev/null || true)
    if [ -z "$cpid" ] || ! alive "$cpid" || [ "$(cat "/proc/$cpid/comm" 2>/dev/null)" != containerd ]; then
      log "removing stale $cpidfile (${cpid:-empty})"
      rm -f "$cpidfile"
    fi
  fi
  # dockerd uses a system containerd whenever /run/containerd/containerd.sock
  # exists, and fails ("failed to dial ... context deadline exceeded") when
  # nothing listens there. A leftover path that is not a socket, or a socket
  # with no containerd process behind it, is removed so dockerd starts its own.
  local csock=/run/containerd/containerd.sock
  if [ -e "$csock" ] || [ -L "$csock" ]; then
    if [ ! -S "$csock" ]; then
      log "removing $csock: not a socket (leftover), dockerd would try to dial it"
      rm -f "$csock"
    elif ! pgrep -x containerd >/dev/null; then
      log "removing $csock: no containerd process listens on it"
      rm -f "$csock"
    fi
  fi
  mkdir -p "$(dirname "$DOCKERD_LOG")" "$(dirname "$PIDFILE")"
  printf '\n==== %s provision.sh starts dockerd\n' "$(date -u +%FT%TZ)" >>"$DOCKERD_LOG"
  # setsid: own session, so the caller's process group / terminal going away
  # does not take dockerd with it; all fds redirected so callers that wait on
  # our stdout (CI, tool runners) do not hang.
  local flags=("${DOCKERD_FLAGS[@]}")
  [ "$DAEMON_JSON" = /etc/docker/daemon.json ] || flags+=(--config-file "$DAEMON_JSON")
  setsid dockerd "${flags[@]}" </dev/null >>"$DOCKERD_LOG" 2>&1 &
  pid=$!
  echo "$pid" >"$PIDFILE"
  log "started dockerd (pid $pid), log $DOCKERD_LOG"
  for i in $(seq 120); do
    if engine_up; then
      log "docker engine answers after ~$((i / 2)) s"
      return 0
    fi
    if ! alive "$pid"; then
      rm -f "$PIDFILE"
      tail -n 30 "$DOCKERD_LOG" >&2 || true
      die "dockerd exited during startup (see $DOCKERD_LOG)"
    fi
    sleep 0.5
  done
  tail -n 30 "$DOCKERD_LOG" >&2 || true
  die "docker engine did not answer on $SOCK within 60 s (see $DOCKERD_LOG)"
}

restart_our_dockerd() {
  stop_dockerd
  start_dockerd
}

# Make the running daemon pick up daemon.json. dockerd reloads its runtimes on
# SIGHUP without stopping containers, so try that first (for ours, or for a
# daemon that another tool started and that wrote /var/run/docker.pid); restart
# ours if the reload did not take.
reload_dockerd() {
  local pid i
  if pid=$(our_dockerd_pid) || pid=$(dockerd_pid_from /var/run/docker.pid); then
    log "reloading dockerd (pid $pid) configuration with SIGHUP"
    kill -HUP "$pid"
    for i in $(seq 20); do
      runtime_matches && return 0
      sleep 0.5
    done
  fi
  if our_dockerd_pid >/dev/null; then
    log "reload did not register runsc; restarting our dockerd"
    restart_our_dockerd
  else
    warn "a docker engine not started by provision.sh is running and did not pick up $DAEMON_JSON; restart it by hand"
  fi
}

# ---------------------------------------------------------------- 4. images

recipe_hash() {
  {
    cat "$BUSYBOX_RECIPE"
    sha256sum "$BUSYBOX_BIN" | cut -d' ' -f1
    printf '%s\n' "${BUSYBOX_CHANGES[@]}"
  } | sha256sum | cut -c1-64
}

build_busybox_image() {
  local want have old_id new_id tmp c args=()
  [ -f "$BUSYBOX_RECIPE" ] || die "missing $BUSYBOX_RECIPE"
  want=$(recipe_hash)
  have=$(docker image inspect -f '{{index .Config.Labels "encage.recipe"}}' "$BUSYBOX_IMAGE" 2>/dev/null || true)
  if [ "$have" = "$want" ]; then
    log "image $BUSYBOX_IMAGE up to date (recipe ${want:0:12})"
    return 0
  fi
  old_id=$(docker image inspect -f '{{.Id}}' "$BUSYBOX_IMAGE" 2>/dev/null || true)
  log "building image $BUSYBOX_IMAGE (recipe ${want:0:12}${have:+, was ${have:0:12}})"
  tmp=$(mktemp -d /tmp/encage-rootfs.XXXXXX)
  # shellcheck disable=SC2064
  trap "rm -rf '$tmp'" EXIT
  BUSYBOX=$BUSYBOX_BIN bash "$BUSYBOX_RECIPE" "$tmp/rootfs"
  for c in "${BUSYBOX_CHANGES[@]}"; do args+=(--change "$c"); done
  args+=(--change "LABEL encage.recipe=$want")
  tar -C "$tmp/rootfs" --numeric-owner -cf - . | docker import "${args[@]}" - "$BUSYBOX_IMAGE" >/dev/null
  rm -rf "$tmp"
  trap - EXIT
  new_id=$(docker image inspect -f '{{.Id}}' "$BUSYBOX_IMAGE")
  if [ -n "$old_id" ] && [ "$old_id" != "$new_id" ]; then
    # Drop the previous build if nothing else refers to it.
    docker rmi "$old_id" >/dev/null 2>&1 || true
  fi
}

# ---------------------------------------------------------------- 5. checks + summary

FAILURES=()

# Runs "$@" (2 min at most); prints "ok (N.NNs)" or "FAILED: <last output line>".
smoke() {
  local out t0 ms
  t0=$(date +%s%N)
  if out=$(timeout 120 "$@" 2>&1); then
    ms=$(( ($(date +%s%N) - t0) / 1000000 ))
    printf 'ok (%d.%02ds)' $((ms / 1000)) $((ms % 1000 / 10))
  else
    printf 'FAILED: %s' "$(printf '%s' "$out" | tail -n 1)"
  fi
}

summary() {
  local runc_res runsc_res bwrap_res server client pid owner
  runc_res=$(smoke docker run --rm --network none "$BUSYBOX_IMAGE" /bin/true)
  runsc_res=$(smoke docker run --rm --runtime runsc "$BUSYBOX_IMAGE" /bin/true)
  bwrap_res=$(smoke bwrap --ro-bind / / --proc /proc --dev /dev --unshare-all --die-with-parent /bin/true)
  [[ $runc_res == ok* ]] || FAILURES+=("docker run (runc) failed: docker run --rm --network none $BUSYBOX_IMAGE /bin/true")
  [[ $runsc_res == ok* ]] || FAILURES+=("docker run (runsc) failed: docker run --rm --runtime runsc $BUSYBOX_IMAGE /bin/true")
  [[ $bwrap_res == ok* ]] || FAILURES+=("bwrap smoke test failed")
  server=$(docker version --format '{{.Server.Version}}' 2>/dev/null || echo '?')
  client=$(docker version --format '{{.Client.Version}}' 2>/dev/null || echo '?')
  if pid=$(our_dockerd_pid); then owner="started by provision.sh, pid $pid"; else owner="not started by provision.sh"; fi
  echo
  echo "== encage provision summary"
  echo "bwrap:    $(bwrap --version 2>&1)  smoke: $bwrap_res"
  echo "docker:   server $server (client $client, $(command -v docker)); dockerd $owner"
  echo "          $(docker info --format 'storage {{.Driver}}, cgroup {{.CgroupDriver}} v{{.CgroupVersion}}, default runtime {{.DefaultRuntime}}' 2>/dev/null)"
  echo "runtimes: $(docker info --format '{{json .Runtimes}}' 2>/dev/null)"
  echo "runsc:    $(runsc --version 2>/dev/null | head -n1)"
  echo "smoke:    docker run runc $runc_res, runsc $runsc_res"
  echo "images:"
  docker image ls --format '{{.Repository}}:{{.Tag}}  {{.ID}}  {{.Size}}' 2>/dev/null | grep -v '^<none>' | sed 's/^/  /' || true
  if [ ${#FAILURES[@]} -gt 0 ]; then
    printf '[provision] FAILED: %s\n' "${FAILURES[@]}" >&2
    exit 1
  fi
}

# ---------------------------------------------------------------- main

main() {
  case "${1:-}" in
    --stop) [ "$(id -u)" = 0 ] || die "must run as root"; stop_dockerd; return ;;
    -h|--help) sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; return ;;
    '') ;;
    *) die "unknown argument: $1 (use --stop or --help)" ;;
  esac
  [ "$(id -u)" = 0 ] || die "must run as root"

  install_packages
  RUNSC_PATH=$(command -v runsc) || die "runsc not found after install"
  local json_state
  json_state=$(configure_runtime)
  log "runtime runsc -> $RUNSC_PATH ${RUNSC_ARGS[*]} in $DAEMON_JSON ($json_state)"

  if engine_up; then
    log "docker engine already answers on $SOCK"
    if [ "$json_state" = changed ] || ! runtime_matches; then
      reload_dockerd
    fi
  else
    if our_dockerd_pid >/dev/null; then
      # Ours but not answering: replace it.
      warn "our dockerd runs but does not answer; restarting it"
      stop_dockerd
    fi
    start_dockerd
  fi
  runtime_matches || FAILURES+=("docker does not list runtime runsc as $RUNSC_PATH ${RUNSC_ARGS[*]}")

  build_busybox_image
  summary
}

main "$@"
