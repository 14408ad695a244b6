#!/usr/bin/env bash
# Quick start on a fresh Debian machine: build, validate the example infra repo, plan and apply its staging
# environment (local driver, embedded SQLite state in examples/infra-repo/.reconciler/), then plan again to show
# that a second run has nothing to do. Every step must succeed; the script stops at the first failure.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=examples/infra-repo
env=staging

step() { printf '\n==> %s\n' "$*"; }
fail() { printf '\nquickstart FAILED: %s\n' "$*" >&2; exit 1; }

step "installing missing system packages"
./scripts/install-deps.sh

step "building (Release, warnings are errors)"
dotnet build src/Reconciler/Cli -c Release -nologo -clp:ErrorsOnly >/dev/null || fail "build failed"
cli=(dotnet src/Reconciler/Cli/bin/Release/net10.0/reconciler.dll)

# Harmless demo values for the example's secret references (env:DEMO_...), resolved only at apply time.
export DEMO_DB_PASSWORD="${DEMO_DB_PASSWORD:-demo-db-password}"
export DEMO_JWT_SIGNING_KEY="${DEMO_JWT_SIGNING_KEY:-demo-signing-key}"

step "reconciler validate --repo $repo"
"${cli[@]}" validate --repo "$repo" || fail "validate reported errors"

step "reconciler plan --repo $repo --env $env"
rc=0; "${cli[@]}" plan --repo "$repo" --env "$env" --detailed-exitcode || rc=$?
[ "$rc" -eq 0 ] || [ "$rc" -eq 2 ] || fail "plan failed (exit $rc)"

step "reconciler apply --repo $repo --env $env (first run: deploys the six services with health gates)"
"${cli[@]}" apply --repo "$repo" --env "$env" --yes || fail "apply failed (exit $?)"
step "reconciler apply again: nothing to do"
"${cli[@]}" apply --repo "$repo" --env "$env" --yes || fail "second apply failed (exit $?)"
step "reconciler plan --detailed-exitcode after apply: expect exit 0 (no changes)"
rc=0; "${cli[@]}" plan --repo "$repo" --env "$env" --detailed-exitcode || rc=$?
[ "$rc" -eq 0 ] || fail "plan after apply still has changes (exit $rc): apply is not idempotent"
echo
echo "The staging services run on 127.0.0.1:18081-18084, e.g. curl -s http://127.0.0.1:18082/health"

echo "quickstart: done"
