#!/usr/bin/env bash
# The test command of the README: installs what is missing, builds with warnings as errors, runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
dotnet build Reconciler.sln -c Release -nologo -clp:ErrorsOnly
dotnet test Reconciler.sln -c Release --no-build -nologo --logger "console;verbosity=minimal" "$@"
