#!/usr/bin/env bash
# The push job (a merge to the deploy branch): apply the pushed commit to one environment, and say clearly what an
# exit code other than 0 means for whoever reads the job (docs/cli.md, "Exit codes").
# GitHub provides GITHUB_SHA; the workflow passes ENVIRONMENT and the state store (RECONCILER_STATE). The SSH key
# comes from a file (RECONCILER_SSH_KEY_FILE) or from the environment variable DEPLOY_SSH_KEY, which this script
# writes to a private file; it is never part of a command line or of the workflow's script text.
set -uo pipefail
: "${GITHUB_SHA:?}" "${ENVIRONMENT:?}"
repo="${RECONCILER_REPO:-.}"
key="${RECONCILER_SSH_KEY_FILE:-}"
if [ -z "$key" ] && [ -n "${DEPLOY_SSH_KEY:-}" ]; then
  key="$(mktemp)"; chmod 600 "$key"
  trap 'rm -f "$key"' EXIT
  printf '%s\n' "$DEPLOY_SSH_KEY" > "$key"
fi

reconciler apply --yes --repo "$repo" --rev "$GITHUB_SHA" --env "$ENVIRONMENT" ${key:+--ssh-key "$key"}
code=$?
short="${GITHUB_SHA:0:12}"
say() { # say LEVEL MESSAGE: an annotation, and the same line in the job summary
  echo "::$1::$2"
  if [ -n "${GITHUB_STEP_SUMMARY:-}" ]; then echo "- $2" >> "$GITHUB_STEP_SUMMARY"; fi
}
case "$code" in
  0) say notice "$ENVIRONMENT is at $short." ;;
  3) say error "$short failed its health gate and was rolled back; the commit is quarantined and will not be retried. Revert it (reconciler revert $short) or push a fix." ;;
  4) say error "apply of $short halted (onFailure: halt, or the rollback itself failed): hosts need attention. See reconciler status --env $ENVIRONMENT." ;;
  5) say error "live state of $ENVIRONMENT changed while planning $short (another apply won). Re-run this job." ;;
  6) say error "$ENVIRONMENT is locked or frozen, so $short was not applied. See who and why: reconciler state show --env $ENVIRONMENT; re-run this job once it is unlocked or unfrozen." ;;
  7) say error "the state store is unreachable or refused access; nothing was applied. Check RECONCILER_STATE and its token, then re-run." ;;
  8) say error "$short is quarantined after an earlier failed apply and is not retried. Merge a fix or a revert." ;;
  9) say warning "environment fault while applying $short (a host down, a secret missing, a store that went away): what changed was rolled back and the commit is NOT quarantined. Fix the cause and re-run this job." ;;
  130) say error "apply of $short was interrupted and stopped at a safe point; re-run this job to finish it." ;;
  *) say error "apply of $short failed (exit $code): invalid input or an unexpected error; nothing was changed. See the log above." ;;
esac
exit "$code"
