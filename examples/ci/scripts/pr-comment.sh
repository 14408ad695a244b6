#!/usr/bin/env bash
# The PR's plan comments, kept current through the GitHub REST API (curl and jq, both on GitHub's runners).
#   pr-comment.sh post PART...       one comment per part (plan-part-01.md, ...), each updated in place on the next
#                                    run; comments of parts the plan no longer has are deleted
#   pr-comment.sh outdated REASON    marks the existing plan comments outdated (a banner on top, the old plan kept
#                                    below it for reference); posts the banner alone when there is no plan comment yet
# Each comment starts with a hidden marker naming its part, which is how the next run finds it.
# Needs GITHUB_API_URL (default https://api.github.com), GITHUB_REPOSITORY (owner/name), PR_NUMBER, GITHUB_TOKEN.
set -euo pipefail
shopt -s inherit_errexit   # a failed API call inside $(...) fails the script too
api_url="${GITHUB_API_URL:-https://api.github.com}"
: "${GITHUB_REPOSITORY:?}" "${PR_NUMBER:?}" "${GITHUB_TOKEN:?}"
marker_prefix='<!-- reconciler-plan part='
banner_start='> [!WARNING]'

api() { # api METHOD PATH [JSON-BODY-FILE]
  local args=(-fsS -X "$1" -H "Accept: application/vnd.github+json" -H "Authorization: Bearer $GITHUB_TOKEN")
  if [ $# -ge 3 ]; then args+=(-H "Content-Type: application/json" --data-binary "@$3"); fi
  curl "${args[@]}" "$api_url/repos/$GITHUB_REPOSITORY/$2"
}

# "ID PART" for every plan comment on the PR, all pages (at most 100 pages of 100).
plan_comments() {
  local page batch
  for page in $(seq 1 100); do
    batch="$(api GET "issues/$PR_NUMBER/comments?per_page=100&page=$page")" || exit 1
    [ "$(jq 'length' <<<"$batch")" -eq 0 ] && break
    jq -r --arg m "$marker_prefix" '.[] | select(.body | startswith($m))
      | "\(.id) \(.body | ltrimstr($m) | split(" ")[0])"' <<<"$batch"
  done
}

body_file() { # body_file TEXT-FILE: the JSON request body {"body": TEXT}
  local json; json="$(mktemp)"
  jq -Rs '{body: .}' < "$1" > "$json"
  echo "$json"
}

case "${1:-}" in
  post)
    shift
    existing="$(plan_comments)" || exit 1
    count=$#
    part=0
    for file in "$@"; do
      part=$((part + 1))
      text="$(mktemp)"
      { printf '%s%d -->\n' "$marker_prefix" "$part"; cat "$file"; } > "$text"
      json="$(body_file "$text")"
      id="$(awk -v p="$part" '$2 == p { print $1; exit }' <<<"$existing")"
      if [ -n "$id" ]; then api PATCH "issues/comments/$id" "$json" > /dev/null; echo "updated comment $id (part $part of $count)"
      else api POST "issues/$PR_NUMBER/comments" "$json" > /dev/null; echo "posted part $part of $count"; fi
      rm -f "$text" "$json"
    done
    awk -v n="$count" '$2 > n { print $1 }' <<<"$existing" | while read -r id; do
      api DELETE "issues/comments/$id" > /dev/null; echo "deleted comment $id (a part this plan no longer has)"
    done
    ;;
  outdated)
    reason="${2:?outdated needs a reason}"
    existing="$(plan_comments)" || exit 1
    banner="$banner_start"$'\n'"> **Outdated:** $reason. The plan below is of an earlier commit; it is not what this pull request would deploy now."
    if [ -z "$existing" ]; then
      text="$(mktemp)"; printf '%s1 -->\n%s\n' "$marker_prefix" "$banner" > "$text"
      json="$(body_file "$text")"; api POST "issues/$PR_NUMBER/comments" "$json" > /dev/null; rm -f "$text" "$json"
      echo "posted: outdated ($reason)"
      exit 0
    fi
    while read -r id part; do
      old="$(api GET "issues/comments/$id" | jq -r '.body')"
      text="$(mktemp)"
      # The marker line, the new banner, then the plan without any earlier banner (a banner is the lines up to the
      # first blank line after the marker).
      { printf '%s%s -->\n%s\n\n' "$marker_prefix" "$part" "$banner"
        tail -n +2 <<<"$old" | awk -v b="$banner_start" 'NR == 1 && $0 == b { skip = 1 } skip && $0 == "" { skip = 0; next } !skip'
      } > "$text"
      json="$(body_file "$text")"; api PATCH "issues/comments/$id" "$json" > /dev/null; rm -f "$text" "$json"
      echo "marked comment $id outdated"
    done <<<"$existing"
    ;;
  *) echo "usage: pr-comment.sh post PART... | outdated REASON" >&2; exit 2 ;;
esac
