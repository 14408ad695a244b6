#!/usr/bin/env bash
# Builds the example services' artifacts reproducibly: artifacts/<service>-<version>.tar.gz, byte for byte the
# same on every run and machine with GNU tar and gzip (sorted names, mtime 0, owner 0, no gzip timestamp).
# Prints "sha256  file" for each; those hashes are the `artifact.sha256` values in services/*.yaml.
# Usage: ./package.sh [OUTDIR]   (default: artifacts/ beside this script)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="${1:-$here/artifacts}"
mkdir -p "$out"
out="$(cd "$out" && pwd)"

# service:version pairs referenced by services/*.yaml (api has an older version pinned in production).
artifacts=(
  db-migrate:1.0.0
  auth:1.2.0
  api:1.4.2
  api:1.5.0
  web:2.1.0
  worker:1.1.0
  feature-config:1.0.0
)

stage="$(mktemp -d)"
trap 'rm -rf "$stage"' EXIT

for pair in "${artifacts[@]}"; do
  service="${pair%%:*}"
  version="${pair#*:}"
  dir="$stage/$service-$version"
  mkdir -p "$dir"
  if [ "$service" = feature-config ]; then
    # A config-only service: the artifact holds just a README; the reconciler writes config.json beside it.
    printf '%s %s: configuration only (config.json is written by the reconciler).\n' "$service" "$version" >"$dir/README.md"
  else
    mkdir -p "$dir/bin"
    cp "$here/app/server.py" "$dir/server.py"
    cp "$here/app/bin/restart" "$here/app/bin/stop" "$here/app/bin/migrate" "$dir/bin/"
    printf '%s\n' "$version" >"$dir/VERSION"
    printf '%s\n' "$service" >"$dir/SERVICE"
  fi
  file="$out/$service-$version.tar.gz"
  tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner --format=gnu \
      --mode='u+rwX,go+rX,go-w' -C "$dir" -cf - . | gzip -n -9 >"$file.tmp"
  mv "$file.tmp" "$file"
  (cd "$out" && sha256sum "$(basename "$file")")
done
