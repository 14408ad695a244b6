#!/usr/bin/env bash
# Plan benchmark (issue 3): the whole `reconciler plan` process on a generated repo of 5,000 services x 3
# environments (+ 100 toggles; generator: bench/Reconciler.Bench generate-repo), median wall time of RUNS runs.
#   cold: no parse cache; every file parsed.                         target <= 2 s
#   warm: one service file changed and committed before each run,    target <= 0.5 s
#         parse cache filled by the previous run; --verbose shows the cache hits.
#   pr:   warm, as a PR preview (--base HEAD~1, Markdown), for reference.
# Each run plans all three environments against an empty live state (every service a create), JSON to /dev/null.
# Usage: bench/plan.sh [RUNS=5] [SERVICES=5000]. Figures: docs/benchmarks/planner.md.
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${1:-5}"
services="${2:-5000}"
repo="${BENCH_PLAN_REPO:-${TMPDIR:-/tmp}/reconciler-plan-bench-$services}"

dotnet build src/Reconciler -c Release -nologo -clp:ErrorsOnly >/dev/null
dotnet build bench/Reconciler.Bench -c Release -nologo -clp:ErrorsOnly >/dev/null
cli=src/Reconciler/bin/Release/net10.0/reconciler.dll

if [ ! -d "$repo/.git" ]; then
  dotnet bench/Reconciler.Bench/bin/Release/net10.0/Reconciler.Bench.dll generate-repo "$repo" --services "$services" --toggles 100
  git -C "$repo" gc -q
fi
git -C "$repo" config user.name bench
git -C "$repo" config user.email bench@example.invalid

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

# One run: prints the wall seconds; the plan's stderr (its --verbose lines) is kept in $last_err.
last_err="$(mktemp)"
run_plan() {
  local start end rc=0
  start=$(date +%s.%N)
  dotnet "$cli" plan --repo "$repo" --rev HEAD --all-envs --verbose "$@" >/dev/null 2>"$last_err" || rc=$?
  end=$(date +%s.%N)
  if [ "$rc" -ne 0 ]; then echo "plan failed (exit $rc):" >&2; tail -20 "$last_err" >&2; exit 1; fi
  echo "$end - $start" | bc
}

# A new blob for one service each time (a config value changes), so a warm run has exactly one file to parse.
touch_one_file() {
  local f="$repo/services/$(ls "$repo/services" | head -1)"
  sed -i -E "0,/^  LOG_LEVEL: .*/s//  LOG_LEVEL: bench-$1/" "$f"
  grep -q "bench-$1" "$f" || printf '# bench %s\n' "$1" >>"$f"
  git -C "$repo" commit -qam "bench change $1"
}

report() { # label, walls...
  local label="$1"; shift
  printf '%-5s median wall %5.2f s  (runs: %s s)\n' "$label" "$(printf '%s\n' "$@" | median)" "$*"
  sed 's/^/        last run: /' "$last_err"
}

echo "repo: $repo ($(ls "$repo/services" | wc -l) services, 3 environments); $(nproc) cores; $runs runs each"

walls=()
for _ in $(seq "$runs"); do rm -rf "$repo/.reconciler/cache"; walls+=("$(run_plan --format json)"); done
report cold "${walls[@]}"

run_plan --format json >/dev/null   # fills the parse cache
walls=()
for i in $(seq "$runs"); do touch_one_file "w$i-$$"; walls+=("$(run_plan --format json)"); done
report warm "${walls[@]}"

walls=()
for i in $(seq "$runs"); do touch_one_file "p$i-$$"; walls+=("$(run_plan --base HEAD~1 --format markdown)"); done
report pr "${walls[@]}"
rm -f "$last_err"
