#!/usr/bin/env bash
# Soak test: many one-shot runs per available provider (success, non-zero exits, timeouts, aborts
# during prepare, exec and teardown; up to 64 at once), then checks that no process, mount, temp
# dir, cgroup or container is left and that the Manager's heap came back within 10%.
#
#   npm run soak                                  # 10,000 scriptdir, 10,000 bwrap, 500 docker
#   npm run soak -- --bwrap 2000 --docker 0       # other counts (0 skips a provider)
#   npm run soak -- --concurrency 16 --seed 42 --report soak.json
#
# The same file runs reduced (1,000 bwrap, 300 scriptdir, 100 docker) inside `npm test`.
# Environment equivalents: ENCAGE_SOAK_{SCRIPTDIR,BWRAP,DOCKER,CONCURRENCY,SEED,REPORT}.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

export ENCAGE_SOAK_SCRIPTDIR="${ENCAGE_SOAK_SCRIPTDIR:-10000}"
export ENCAGE_SOAK_BWRAP="${ENCAGE_SOAK_BWRAP:-10000}"
export ENCAGE_SOAK_DOCKER="${ENCAGE_SOAK_DOCKER:-500}"
export ENCAGE_SOAK_CONCURRENCY="${ENCAGE_SOAK_CONCURRENCY:-64}"

usage() { sed -n '2,11p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }

while [ $# -gt 0 ]; do
  flag=$1 value=${2:-}
  case "$flag" in
    --*=*) value=${flag#*=} flag=${flag%%=*}; shift ;;
    -h | --help) usage; exit 0 ;;
    *) [ $# -ge 2 ] || { echo "soak: $flag needs a value" >&2; exit 2; }; shift 2 ;;
  esac
  case "$flag" in
    --scriptdir) ENCAGE_SOAK_SCRIPTDIR=$value ;;
    --bwrap) ENCAGE_SOAK_BWRAP=$value ;;
    --docker) ENCAGE_SOAK_DOCKER=$value ;;
    --concurrency) ENCAGE_SOAK_CONCURRENCY=$value ;;
    --seed) export ENCAGE_SOAK_SEED=$value ;;
    --report) export ENCAGE_SOAK_REPORT=$value ;;
    *) echo "soak: unknown flag $flag (see --help)" >&2; exit 2 ;;
  esac
done

echo "soak: scriptdir=$ENCAGE_SOAK_SCRIPTDIR bwrap=$ENCAGE_SOAK_BWRAP docker=$ENCAGE_SOAK_DOCKER concurrency=$ENCAGE_SOAK_CONCURRENCY"
exec npx vitest run test/reliability/soak.test.ts
