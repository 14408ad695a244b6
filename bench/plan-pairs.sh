#!/usr/bin/env bash
# Two builds of the CLI compared on one plan command, run alternately (one run of each in turn) so that both see the
# same machine: a shared 2-core machine drifts by 10-20% between rounds of bench/plan.sh, more than a small change.
# Each build plans its own copy of the benchmark repo (bench/plan.sh generates one per TMPDIR), so that one build's
# parse cache and converged memo never invalidate the other's. Prints the median wall and CPU (user+sys) of each.
# Usage: bench/plan-pairs.sh [--cold] PAIRS CLI_A REPO_A CLI_B REPO_B -- PLAN_ARGS...   (REPO in PLAN_ARGS: that build's repo)
# e.g. bench/plan-pairs.sh 8 /tmp/bench-base/reconciler-bench-shipped/reconciler /tmp/bench-base/reconciler-plan-bench-5000 \
#        /tmp/bench-new/reconciler-bench-shipped/reconciler /tmp/bench-new/reconciler-plan-bench-5000 -- --base HEAD~1 --format markdown
# --cold removes the repo's cache (parse cache and converged memo) before every run.
set -euo pipefail
cold=false
if [ "${1:-}" = --cold ]; then cold=true; shift; fi
pairs="$1" cli_a="$2" repo_a="$3" cli_b="$4" repo_b="$5"; shift 5
[ "${1:-}" = -- ] && shift
out="$(mktemp)"; err="$(mktemp)"
trap 'rm -f "$out" "$err"' EXIT
run() { # label cli repo
  local label="$1" cli="$2" repo="$3"
  $cold && rm -rf "$repo/.reconciler/cache"
  /usr/bin/time -f "$label %e %U %S" -a -o "$out" $cli plan --repo "$repo" --rev HEAD --all-envs "${@:4}" >/dev/null 2>"$err" \
    || { echo "plan failed ($label):" >&2; tail -5 "$err" >&2; exit 1; }
}
for _ in $(seq "$pairs"); do
  run A "$cli_a" "$repo_a" "${@//REPO/$repo_a}"
  run B "$cli_b" "$repo_b" "${@//REPO/$repo_b}"
done
for label in A B; do
  grep "^$label " "$out" | awk '{print $2, $3 + $4}' | sort -n -k2 | awk -v l="$label" '
    { w[NR] = $1; c[NR] = $2 } END { m = int((NR + 1) / 2); printf "%s median CPU %.2f s (runs sorted by CPU; that run took %.2f s wall), n=%d\n", l, c[m], w[m], NR }'
done
