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
# The release build (scripts/publish.sh: the Native AOT executable and the tool package), unless only the fast subset
# runs or RECONCILER_TEST_AOT=0: the install tests install it, and the tests that start the CLI as a program (trait
# Runs=Executable) run a second time against the AOT executable, which must answer as the JIT build does.
dist=""
if [[ "$*" != *'Category!=EndToEnd'* && "${RECONCILER_TEST_AOT:-1}" != 0 ]]; then
  dist="$(pwd)/artifacts/dist"
  ./scripts/publish.sh "$dist" >/dev/null
  export RECONCILER_TEST_DIST="$dist"
fi
dotnet test Reconciler.sln -c Release --no-build -nologo --logger "console;verbosity=minimal" "$@" 2>&1 | tee "$log" || status=$?
if [ -n "$dist" ]; then
  executable="$(ls "$dist"/reconciler-*-linux-x64/reconciler)"
  echo "== the tests that start the CLI, again against the Native AOT executable $executable"
  RECONCILER_TEST_EXECUTABLE="$executable" dotnet test tests/Reconciler.Cli.Tests -c Release --no-build -nologo \
    --logger "console;verbosity=minimal" --filter "Runs=Executable" 2>&1 | tee -a "$log" || status=$?
fi
# Pass counts of the YAML and JSON Schema test suites and of the ajv differential (tests/Reconciler.Schema.Tests/Conformance).
cat artifacts/conformance/*.txt 2>/dev/null || echo "conformance: no counts written (the Schema tests did not run)"
# dotnet test prints one "Passed!/Failed!  - Failed: N, Passed: N, Skipped: N, Total: N" line per test project.
awk '/(Passed|Failed)! +- +Failed: /{
       gsub(",", ""); for (i = 1; i <= NF; i++) { if ($i == "Failed:") f += $(i+1); if ($i == "Passed:") p += $(i+1); if ($i == "Skipped:") s += $(i+1) }
     } END { printf "tests: %d passed, %d failed, %d skipped\n", p, f, s }' "$log"
exit $status
