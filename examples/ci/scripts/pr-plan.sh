#!/usr/bin/env bash
# The pull-request job: validate and plan what merging the PR would deploy, and keep the PR's plan comment current.
# Plans the merge of the PR head into the target branch as it is now (not the PR head alone: once the target moved
# on, the head lacks those commits and its plan would show them undone). The merge is made as a Git commit object
# only (git merge-tree + commit-tree): nothing is checked out, and reconciler reads it straight from Git.
# GitHub provides: GITHUB_BASE_REF (target branch), GITHUB_REPOSITORY, GITHUB_API_URL; the workflow passes
# PR_NUMBER, PR_HEAD_SHA and GITHUB_TOKEN. Optional: RECONCILER_ENV (default: every environment), RECONCILER_REPO
# (the infra repo inside the Git repo, default .), PLAN_DIR (default: reconciler-plan).
# Exit: 0 plan posted (with or without changes); 1 the PR does not merge, does not validate, or cannot be planned
# (the comment then says so and marks the last plan outdated); other codes as `reconciler plan` documents.
set -uo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
comment="$here/pr-comment.sh"
repo="${RECONCILER_REPO:-.}"
out="${PLAN_DIR:-reconciler-plan}"
: "${GITHUB_BASE_REF:?}" "${PR_HEAD_SHA:?}" "${PR_NUMBER:?}"

git fetch --quiet --no-tags origin "+refs/heads/$GITHUB_BASE_REF:refs/remotes/origin/$GITHUB_BASE_REF" || exit 1
base="$(git rev-parse --verify "refs/remotes/origin/$GITHUB_BASE_REF^{commit}")" || exit 1
head="$(git rev-parse --verify "$PR_HEAD_SHA^{commit}")" || exit 1

if ! tree="$(git merge-tree --write-tree --no-messages "$base" "$head")"; then
  echo "::error::this pull request does not merge cleanly into $GITHUB_BASE_REF; rebase or merge $GITHUB_BASE_REF into it"
  "$comment" outdated "the branch does not merge cleanly into \`$GITHUB_BASE_REF\` at ${base:0:12}" || exit 1
  exit 1
fi
tree="$(printf '%s\n' "$tree" | head -n 1)"
merge="$(git -c user.name=reconciler-ci -c user.email=reconciler-ci@localhost commit-tree "$tree" -p "$base" -p "$head" \
  -m "Merge of #$PR_NUMBER (${head:0:12}) into $GITHUB_BASE_REF (${base:0:12}), for the plan only")" || exit 1
echo "planning the merge ${merge:0:12} of ${head:0:12} into $GITHUB_BASE_REF at ${base:0:12}"

# Annotations on the PR's files (::error file=...,line=...,col=...::); a failure marks the last plan outdated.
reconciler validate --repo "$repo" --rev "$merge" --format github
code=$?
if [ "$code" -ne 0 ]; then
  "$comment" outdated "\`reconciler validate\` failed at ${head:0:12} (exit $code); see the annotations on the files" || exit 1
  exit "$code"
fi

if [ -n "${RECONCILER_ENV:-}" ]; then envs=(--env "$RECONCILER_ENV"); else envs=(--all-envs); fi
reconciler plan --repo "$repo" --rev "$merge" --base "$base" "${envs[@]}" \
  --format markdown --split-at 60000 --out-dir "$out" --detailed-exitcode > /dev/null
code=$?
if [ "$code" -ne 0 ] && [ "$code" -ne 2 ]; then
  "$comment" outdated "\`reconciler plan\` failed at ${head:0:12} (exit $code); see the job log" || exit 1
  exit "$code"
fi
"$comment" post "$out"/plan-part-*.md || exit 1
echo "changes=$([ "$code" -eq 2 ] && echo true || echo false)" >> "${GITHUB_OUTPUT:-/dev/null}"
