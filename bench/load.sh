#!/usr/bin/env bash
# Load benchmark (issue 2): generate a Git repo of 5,000 services x 3 environments (+ 100 toggles), then run the
# built CLI `reconciler validate --repo DIR --rev HEAD` RUNS times, cold (--no-cache: every file parsed) and warm
# (parse cache filled by the previous run), and report the median wall time and the peak RSS of the whole process
# (GNU time -v). Target: <= 1.5 s wall and <= 400 MB peak on a 2-core machine. Figures: docs/benchmarks/repo.md.
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

dotnet build src/Reconciler -c Release -nologo -clp:ErrorsOnly >/dev/null
dotnet build bench/Reconciler.Bench -c Release -nologo -clp:ErrorsOnly >/dev/null
cli=src/Reconciler/bin/Release/net10.0/reconciler.dll

if [ ! -d "$repo/.git" ]; then
  dotnet bench/Reconciler.Bench/bin/Release/net10.0/Reconciler.Bench.dll generate-repo "$repo" --services "$services" --toggles 100
  # A clone is packed; so is the benchmark repo (loose objects cost ~2x on the Git read).
  git -C "$repo" gc -q
fi

measure() { # label, extra args...
  local label="$1"; shift
  local walls=() rsss=() out rc
  for _ in $(seq "$runs"); do
    out="$(mktemp)"
    rc=0
    /usr/bin/time -f '%e %M' -o "$out.time" dotnet "$cli" validate --repo "$repo" --rev HEAD "$@" >"$out" 2>&1 || rc=$?
    if [ "$rc" -ne 0 ]; then
      echo "validate failed (exit $rc):" >&2; tail -20 "$out" >&2; exit 1
    fi
    read -r wall rss <"$out.time"
    walls+=("$wall"); rsss+=("$rss")
    rm -f "$out" "$out.time"
  done
  local median_wall max_rss
  median_wall="$(printf '%s\n' "${walls[@]}" | sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}')"
  max_rss="$(printf '%s\n' "${rsss[@]}" | sort -n | tail -1)"
  printf '%-6s median wall %5.2f s  peak RSS %4d MB  (runs: %s s)\n' "$label" "$median_wall" "$((max_rss / 1024))" "${walls[*]}"
}

echo "repo: $repo ($(find "$repo/services" -name '*.yaml' | wc -l) services, commit $(git -C "$repo" rev-parse --short HEAD)); $(nproc) cores; $runs runs each"
rm -rf "$repo/.reconciler/cache"
measure cold --no-cache
dotnet "$cli" validate --repo "$repo" --rev HEAD >/dev/null   # fills the parse cache
measure warm
