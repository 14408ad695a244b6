#!/usr/bin/env bash
# Load benchmark (issue 2): generate a Git repo of 5,000 services x 3 environments (+ 100 toggles), then run the
# built CLI `reconciler validate --repo DIR --rev HEAD` RUNS times per case: cold (--no-cache: every file parsed),
# first (no cache yet: every file parsed and the pack written), warm (the pack of the previous run). Reports the
# median wall time, median CPU time and the peak RSS of the whole process (GNU time). Target: <= 1.5 s wall and <= 400 MB peak on a 2-core machine. Figures: docs/benchmarks/repo.md.
# Builds (BENCH_BUILDS, default all three): "build" (plain Release, JIT), "r2r" (framework-dependent ReadyToRun),
# "shipped" (scripts/publish.sh: self-contained composite ReadyToRun).
# Usage: bench/load.sh [RUNS=5] [SERVICES=5000]
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${1:-5}"
services="${2:-5000}"
repo="${BENCH_REPO:-${TMPDIR:-/tmp}/reconciler-bench-repo-$services}"

if [ ! -x /usr/bin/time ]; then
  echo "installing GNU time (for peak RSS)"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq time >/dev/null
fi

builds="${BENCH_BUILDS:-build r2r shipped}"
r2r_dir="${TMPDIR:-/tmp}/reconciler-bench-r2r"
. bench/common.sh
build_cli
generate_repo

measure() { # label, cli dll, prep command (run before each run, untimed), extra args...
  local label="$1" cli="$2" prep="$3"; shift 3
  local walls=() rsss=() cpus=() out rc
  for _ in $(seq "$runs"); do
    $prep
    out="$(mktemp)"
    rc=0
    /usr/bin/time -f '%e %M %U %S' -o "$out.time" $cli validate --repo "$repo" --rev HEAD "$@" >"$out" 2>&1 || rc=$?
    if [ "$rc" -ne 0 ]; then
      echo "validate failed (exit $rc):" >&2; tail -20 "$out" >&2; exit 1
    fi
    read -r wall rss user sys <"$out.time"
    walls+=("$wall"); rsss+=("$rss"); cpus+=("$(awk -v u="$user" -v s="$sys" 'BEGIN {print u + s}')")
    rm -f "$out" "$out.time"
  done
  local max_rss
  max_rss="$(printf '%s\n' "${rsss[@]}" | sort -n | tail -1)"
  printf '%-12s median wall %5.2f s  median CPU %5.2f s  peak RSS %4d MB  (wall per run: %s)\n' "$label" \
    "$(median "${walls[@]}")" "$(median "${cpus[@]}")" "$((max_rss / 1024))" "${walls[*]}"
}
drop_cache() { rm -rf "$repo/.reconciler/cache"; }
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

echo "repo: $repo ($(find "$repo/services" -name '*.yaml' | wc -l) services, commit $(git -C "$repo" rev-parse --short HEAD)); $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg); $runs runs each"
for build in $builds; do
  cli="$(cli_of "$build")"
  measure "$build cold" "$cli" true --no-cache
  measure "$build first" "$cli" drop_cache                      # no cache yet: parse everything and write the pack
  measure "$build warm" "$cli" true                             # the pack from the previous run
done
