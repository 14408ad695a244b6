#!/usr/bin/env bash
# Builds the CLI the way it ships: one self-contained linux-x64 directory (no .NET install needed on the machine that
# runs it), compiled ahead of time as one composite ReadyToRun image of the app and the runtime together. A short `plan`
# or `validate` then spends no time compiling: framework-dependent ReadyToRun still JIT-compiles ~900 methods per run
# (generic code shared with the framework), a third of a warm plan's CPU (docs/benchmarks/planner.md).
# Usage: scripts/publish.sh [OUT=dist/reconciler]; run OUT/reconciler. Takes ~2 minutes.
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-dist/reconciler}"
# Its own artifacts path: a self-contained publish must not share obj/ with the framework-dependent builds (their
# later ReadyToRun publishes pick up the wrong runtime pack and the CLI aborts at start-up).
dotnet publish src/Reconciler/Cli -c Release -r linux-x64 --self-contained true \
  -p:PublishReadyToRun=true -p:PublishReadyToRunComposite=true \
  --artifacts-path "${TMPDIR:-/tmp}/reconciler-publish-artifacts" -o "$out" -nologo -clp:ErrorsOnly
echo "published $out/reconciler"
