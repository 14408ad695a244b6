#!/usr/bin/env bash
# Plan benchmark (issue 3): the whole `reconciler plan --all-envs` process on a generated repo of 5,000 services x
# 3 environments (+ 100 toggles; generator: bench/Reconciler.Bench generate-repo), median of RUNS runs per case.
# Two live states:
#   deployed: the state store holds what a full apply of the repo's first commit left (15,000 services; written once
#             by `reconciler-bench seed-state`), so a changed file plans as that one change: the pull-request case.
#   empty:    no store (--state pointing at a file that does not exist): every service is a create, 55 MB of JSON.
# Cases (JSON to /dev/null, --verbose shows cache hits and per-phase times in the last run's lines):
#   cold:  no parse cache; every file parsed.                                   target <= 2 s
#   warm:  one service file changed and committed before each run (a new blob;   target <= 0.5 s
#          the parse cache holds the others).
#   pr:    warm, as a PR preview (--base HEAD~1, Markdown): two commits loaded, no store.
# Wall time, CPU time (user+sys) and peak RSS (GNU time) of the process; on a shared machine the CPU time is the steadier figure.
# A warm run and a PR preview are planned incrementally (issue 17): from the snapshot the previous run left
# (.reconciler/cache/plans/), the tree ids and the store's version; --verbose says "incremental" in the load line.
# Scale: SERVICES=5000, 10000, 20000 (issue 17's targets: warm and PR at 20,000 within 1.2x of 5,000 and <= 0.5 s).
# The flatness ratio is better taken with bench/plan-flatness.sh, which plans the sizes in turn on the same machine.
# Three builds, as bench/load.sh: plain Release (JIT), framework-dependent ReadyToRun, and the shipped build
# (scripts/publish.sh). A warm run also has the converged memo of the previous run (.reconciler/cache/converged/);
# a cold run has neither cache.
# Usage: bench/plan.sh [RUNS=5] [SERVICES=5000]; BENCH_BUILDS="build r2r shipped" picks builds. Figures: docs/benchmarks/planner.md.
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${1:-5}"
services="${2:-5000}"
repo="${BENCH_PLAN_REPO:-${TMPDIR:-/tmp}/reconciler-plan-bench-$services}"
builds="${BENCH_BUILDS:-build r2r shipped}"
r2r_dir="${TMPDIR:-/tmp}/reconciler-plan-bench-r2r"

. bench/common.sh
build_cli
generate_repo
git -C "$repo" config user.name bench
git -C "$repo" config user.email bench@example.invalid
deployed_state="sqlite:$repo/.reconciler/deployed.db"
empty_state="sqlite:$repo/.reconciler/no-such-store.db"   # never created: plan does not create a store
if [ ! -f "$repo/.reconciler/deployed.db" ]; then
  # The state a full apply of the repo's first commit leaves, in every environment.
  dotnet bench/Reconciler.Bench/bin/Release/net10.0/Reconciler.Bench.dll seed-state "$repo" "$(git -C "$repo" rev-list --max-parents=0 HEAD)" "$deployed_state"
fi

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

last_err="$(mktemp)"
times="$(mktemp)"
run_plan() { # cli command, extra args...; appends "wall cpu" to $times
  local cli="$1" rc=0; shift
  /usr/bin/time -f '%e %U %S %M' -o "$times.one" $cli plan --repo "$repo" --rev HEAD --all-envs --verbose "$@" >/dev/null 2>"$last_err" || rc=$?
  if [ "$rc" -ne 0 ]; then echo "plan failed (exit $rc):" >&2; tail -20 "$last_err" >&2; exit 1; fi
  awk '{printf "%s %.2f %d\n", $1, $2 + $3, $4 / 1024}' "$times.one" >>"$times"
}

# A new blob for one service each time: a config value that no environment overrides changes, so against the
# deployed state the plan is one reconfigure per environment, and a warm run has exactly one file to parse.
touch_one_file() {
  local f="$repo/services/$(ls "$repo/services" | head -1)"
  sed -i -E "0,/^  CACHE_TTL: .*/s//  CACHE_TTL: \"bench-$1\"/" "$f"
  grep -q "bench-$1" "$f" || printf '# bench %s\n' "$1" >>"$f"
  git -C "$repo" commit -qam "bench change $1"
}

report() { # label
  printf '%-22s median wall %5.2f s, CPU %5.2f s, peak RSS max %4d MB  (wall: %s; CPU: %s)\n' "$1" \
    "$(cut -d' ' -f1 "$times" | median)" "$(cut -d' ' -f2 "$times" | median)" "$(cut -d' ' -f3 "$times" | sort -n | tail -1)" \
    "$(cut -d' ' -f1 "$times" | tr '\n' ' ')" "$(cut -d' ' -f2 "$times" | tr '\n' ' ')"
  sed 's/^/                         last run: /' "$last_err"
  : >"$times"
}

echo "repo: $repo ($(ls "$repo/services" | wc -l) services, 3 environments); $(nproc) cores; load $(cut -d' ' -f1-3 /proc/loadavg); $runs runs each"
for build in $builds; do
  cli="$(cli_of "$build")"
  for live in deployed empty; do
    if [ "$live" = deployed ]; then state="$deployed_state"; else state="$empty_state"; fi
    for _ in $(seq "$runs"); do rm -rf "$repo/.reconciler/cache"; run_plan "$cli" --state "$state" --format json; done
    report "$build $live cold"
    run_plan "$cli" --state "$state" --format json; : >"$times"   # fills the parse cache
    for i in $(seq "$runs"); do touch_one_file "$build-$live-w$i-$$"; run_plan "$cli" --state "$state" --format json; done
    report "$build $live warm"
  done
  touch_one_file "$build-p0-$$"; run_plan "$cli" --base HEAD~1 --format markdown; : >"$times"   # leaves the preview's snapshot
  for i in $(seq "$runs"); do touch_one_file "$build-p$i-$$"; run_plan "$cli" --base HEAD~1 --format markdown; done
  report "$build pr"
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
rm -f "$last_err" "$times" "$times.one"
