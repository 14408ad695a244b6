#!/usr/bin/env bash
# Installs what a fresh Debian 12 machine lacks: sshd (tests start their own on 127.0.0.1), git, python3
# (the example services), tar/gzip (artifacts). Idempotent and quiet when everything is there.
set -euo pipefail
need=()
command -v sshd >/dev/null 2>&1 || [ -x /usr/sbin/sshd ] || need+=(openssh-server)
command -v ssh-keygen >/dev/null 2>&1 || need+=(openssh-client)
command -v unshare >/dev/null 2>&1 || need+=(util-linux)   # SshdFleet: one mount namespace per test sshd
command -v git >/dev/null 2>&1 || need+=(git)
command -v python3 >/dev/null 2>&1 || need+=(python3)
command -v tar >/dev/null 2>&1 || need+=(tar)
command -v gzip >/dev/null 2>&1 || need+=(gzip)
command -v curl >/dev/null 2>&1 || need+=(curl)   # examples/ci scripts (CiStepsTests): the GitHub API calls
command -v jq >/dev/null 2>&1 || need+=(jq)       # examples/ci scripts: JSON of the GitHub API
command -v node >/dev/null 2>&1 || need+=(nodejs)   # the conformance tests run ajv and read the YAML test suite
command -v npm >/dev/null 2>&1 || need+=(npm)
command -v chromium >/dev/null 2>&1 || need+=(chromium)                 # the status page tests (headless, JavaScript off)
command -v chromedriver >/dev/null 2>&1 || need+=(chromium-driver)       # ... driven by Selenium through Debian's own driver
# Native AOT (scripts/publish.sh) compiles and links with the C toolchain, and links zlib.
command -v gcc >/dev/null 2>&1 || need+=(gcc)
[ -e /usr/include/zlib.h ] || need+=(zlib1g-dev)
if [ ${#need[@]} -gt 0 ]; then
  echo "installing: ${need[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
if ! command -v dotnet >/dev/null 2>&1; then
  echo "error: the .NET 10 SDK is required (dotnet not on PATH); see README.md" >&2
  exit 1
fi
# The SSH tests give each test sshd its own mount namespace (tests/Reconciler.Engine.Tests/Infrastructure/SshdFleet.cs):
# that needs root or CAP_SYS_ADMIN. Say so up front rather than leave only failed sshd logs.
if ! unshare --mount true 2>/dev/null; then
  echo "warning: cannot create a mount namespace (not root, no CAP_SYS_ADMIN): the SSH tests will fail; run the tests as root" >&2
fi
# npm packages of the conformance tests, into a git-ignored folder (tests/npm/node_modules).
"$(dirname "$0")/install-npm.sh"
