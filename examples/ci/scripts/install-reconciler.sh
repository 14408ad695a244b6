#!/usr/bin/env bash
# Installs the reconciler CLI for this job and puts it on PATH for the later steps ($GITHUB_PATH).
#   From the .NET tool package (needs the .NET SDK on the runner):
#     RECONCILER_PACKAGE_SOURCE  a NuGet feed URL or a folder holding reconciler.<version>.nupkg
#   Or from the self-contained linux-x64 tarball (no .NET needed):
#     RECONCILER_TARBALL         URL or path of reconciler-<version>-linux-x64.tar.gz; its sha256 file
#                                (the same name + .sha256, as scripts/publish.sh writes it) must sit beside it
#   RECONCILER_VERSION           optional: the version to install (default: the newest the source has)
#   RECONCILER_HOME              where to install (default: $RUNNER_TEMP/reconciler)
# Fails (exit 1) when nothing was installed: a CI job must not go on without the CLI.
set -euo pipefail
dest="${RECONCILER_HOME:-${RUNNER_TEMP:-${TMPDIR:-/tmp}}/reconciler}"
mkdir -p "$dest"

fetch() { # fetch SOURCE TARGET: a URL with curl, a path with cp
  case "$1" in
    http://*|https://*) curl -fsSL --retry 3 -o "$2" "$1" ;;
    *) cp "$1" "$2" ;;
  esac
}

if [ -n "${RECONCILER_TARBALL:-}" ]; then
  work="$(mktemp -d)"
  name="$(basename "$RECONCILER_TARBALL")"
  fetch "$RECONCILER_TARBALL" "$work/$name"
  fetch "$RECONCILER_TARBALL.sha256" "$work/$name.sha256"
  (cd "$work" && sha256sum --check --strict "$name.sha256") \
    || { echo "::error::$name does not match its sha256; not installed." >&2; exit 1; }
  tar -xzf "$work/$name" -C "$dest" --strip-components=1
  rm -rf "$work"
elif [ -n "${RECONCILER_PACKAGE_SOURCE:-}" ]; then
  dotnet tool install reconciler --tool-path "$dest" --add-source "$RECONCILER_PACKAGE_SOURCE" \
    ${RECONCILER_VERSION:+--version "$RECONCILER_VERSION"}
else
  echo "::error::set RECONCILER_PACKAGE_SOURCE (tool package feed) or RECONCILER_TARBALL (release tarball) to install reconciler" >&2
  exit 1
fi

"$dest/reconciler" --version   # fails the step when the install did not give a working CLI
if [ -n "${GITHUB_PATH:-}" ]; then echo "$dest" >> "$GITHUB_PATH"; fi
