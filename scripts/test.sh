#!/usr/bin/env bash
# The test command of the README: installs what is missing, builds with warnings as errors, runs every test,
# and ends with one summary line "tests: N passed, N failed, N skipped".
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
dotnet build Reconciler.sln -c Release -nologo -clp:ErrorsOnly
log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
rm -rf artifacts/conformance   # the conformance tests write their pass counts here (printed below)
dotnet test Reconciler.sln -c Release --no-build -nologo --logger "console;verbosity=minimal" "$@" 2>&1 | tee "$log" || status=$?
# Pass counts of the YAML and JSON Schema test suites and of the ajv differential (tests/Reconciler.Schema.Tests/Conformance).
cat artifacts/conformance/*.txt 2>/dev/null || echo "conformance: no counts written (the Schema tests did not run)"
# dotnet test prints one "Passed!/Failed!  - Failed: N, Passed: N, Skipped: N, Total: N" line per test project.
awk '/(Passed|Failed)! +- +Failed: /{
       gsub(",", ""); for (i = 1; i <= NF; i++) { if ($i == "Failed:") f += $(i+1); if ($i == "Passed:") p += $(i+1); if ($i == "Skipped:") s += $(i+1) }
     } END { printf "tests: %d passed, %d failed, %d skipped\n", p, f, s }' "$log"
exit $status
