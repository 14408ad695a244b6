#!/usr/bin/env bash
# Is the warm plan flat in the repo's size (issue 17: 20,000 services within 1.2x of 5,000)? One build, its repos of
# several sizes planned in turn, round by round, so that every size sees the same machine: the ratio of two medians
# taken minutes apart on a shared 2-core machine drifts more than the effect measured. Each round, for each size: one
# service file changed and committed (as bench/plan.sh's warm case), one plan to fill the caches, a second change, and
# the plan measured (wall from the shell's microsecond clock; /usr/bin/time's is 10 ms).
#   warm: against the deployed store, JSON to /dev/null (every entry: ~17 MB at 20,000 services x 3 environments);
#   warm-markdown: the same plan as Markdown (what changed, and the counts);  pr: the PR preview (--base HEAD~1, Markdown).
# The repos are bench/plan.sh's (TMPDIR/reconciler-plan-bench-N, with their deployed store): run that once per size.
# Usage: bench/plan-flatness.sh CLI ROUNDS warm|warm-markdown|pr SIZE...   e.g. bench/plan-flatness.sh DIR/reconciler 11 pr 5000 20000
set -euo pipefail
cli="$1" rounds="$2" mode="$3"; shift 3
err="$(mktemp)"; times="$(mktemp -d)"
trap 'rm -rf "$err" "$times"' EXIT
repo_of() { echo "${TMPDIR:-/tmp}/reconciler-plan-bench-$1"; }
for n in "$@"; do [ -f "$(repo_of "$n")/.reconciler/deployed.db" ] || { echo "no benchmark repo of $n services: run bench/plan.sh 1 $n first" >&2; exit 1; }; done
change() { # repo tag: a new blob for one service (a config value no environment overrides)
  local f="$1/services/$(ls "$1/services" | head -1)"
  sed -i -E "0,/^  CACHE_TTL: .*/s//  CACHE_TTL: \"flat-$2\"/" "$f"
  grep -q "flat-$2" "$f" || printf '# flat %s\n' "$2" >>"$f"
  git -C "$1" commit -qam "flatness change $2"
}
plan() { # repo
  local args=(--state "sqlite:$1/.reconciler/deployed.db" --format json)
  [ "$mode" = warm-markdown ] && args=(--state "sqlite:$1/.reconciler/deployed.db" --format markdown)
  [ "$mode" = pr ] && args=(--base HEAD~1 --format markdown)
  $cli plan --repo "$1" --rev HEAD --all-envs "${args[@]}" >/dev/null 2>"$err" || { echo "plan failed:" >&2; tail -5 "$err" >&2; exit 1; }
}
echo "$mode, $rounds rounds; $(nproc) cores; load $(cut -d' ' -f1-3 /proc/loadavg)"
# An unmeasured round first: the first plan after another build (or none) is a full one and fills that build's caches.
for n in "$@"; do change "$(repo_of "$n")" "warmup-$$"; plan "$(repo_of "$n")"; done
for round in $(seq "$rounds"); do
  for n in "$@"; do
    repo="$(repo_of "$n")"
    change "$repo" "$round-a-$$"; plan "$repo"
    change "$repo" "$round-b-$$"
    start=$EPOCHREALTIME; plan "$repo"; end=$EPOCHREALTIME
    echo "$end - $start" | bc >>"$times/$n"
  done
done
# The median, and the quartiles beside it: on a shared virtual machine a round's time has a long upper tail, and the
# ratio of two medians moves by +-0.05 between runs; the lower quartile is the least disturbed of the three.
first=""
for n in "$@"; do
  read -r q1 median q3 <<<"$(sort -n "$times/$n" | awk '{a[NR]=$1} END {print a[int((NR+3)/4)], a[int((NR+1)/2)], a[int((3*NR+1)/4)]}')"
  [ -z "$first" ] && read -r first_q1 first first_q3 <<<"$q1 $median $q3"
  printf '%6d services: median %.3f s (%.2fx of the first size); quartiles %.3f (%.2fx) and %.3f (%.2fx); runs: %s\n' "$n" \
    "$median" "$(echo "$median / $first" | bc -l)" "$q1" "$(echo "$q1 / $first_q1" | bc -l)" "$q3" "$(echo "$q3 / $first_q3" | bc -l)" \
    "$(sort -n "$times/$n" | tr '\n' ' ')"
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
