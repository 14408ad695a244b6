#!/usr/bin/env bash
# Builds what a release ships, into OUT (default dist/):
#   reconciler.<version>.nupkg                  the .NET tool package: `dotnet tool install reconciler --add-source OUT`
#                                               (framework-dependent: needs the .NET 10 runtime, like every .NET tool)
#   reconciler-<version>-linux-x64/             the self-contained CLI (no .NET install needed), compiled to native code
#                                               ahead of time (Native AOT): one executable and the two native
#                                               libraries it loads (SQLite's and libgit2's)
#   reconciler-<version>-linux-x64.tar.gz       that directory as a tarball, and
#   reconciler-<version>-linux-x64.tar.gz.sha256  its checksum in `sha256sum --check` form
# Native AOT: the process starts without a runtime to load, types to resolve or methods to JIT-compile, which were
# most of a short command's CPU even in the composite ReadyToRun image shipped before (docs/benchmarks.md, "Native
# AOT"). What the AOT compiler needs to keep for the libraries that work by reflection is in
# src/Reconciler/Cli/Reconciler.Cli.csproj and src/Reconciler/Cli/Aot/; scripts/test.sh runs the tests that start the
# CLI (trait Runs=Executable) against this executable. It is compiled for the x86-64 baseline: a Native AOT
# executable has no JIT to fall back on, so one built for newer instruction sets would not start on older CPUs.
# The AOT compile needs a C toolchain (gcc, as on every machine here) and takes 4-5 minutes on 2 cores.
# PUBLISH_AOT=false publishes the composite ReadyToRun image instead, and PUBLISH_READY_TO_RUN=false with it skips that
# compile too (still self-contained, JIT at start-up).
# Usage: scripts/publish.sh [OUT].
set -euo pipefail
cd "$(dirname "$0")/.."
out="$(mkdir -p "${1:-dist}" && cd "${1:-dist}" && pwd)"
version="$(dotnet msbuild src/Reconciler/Cli -getProperty:Version -nologo)"
name="reconciler-$version-linux-x64"

dotnet pack src/Reconciler/Cli -c Release -o "$out" -nologo -clp:ErrorsOnly

# Its own artifacts path: a self-contained publish must not share obj/ with the framework-dependent builds (their
# later ReadyToRun publishes pick up the wrong runtime pack and the CLI aborts at start-up); one per checkout, so two
# checkouts publishing at once do not share one either.
aot="${PUBLISH_AOT:-true}"
r2r="${PUBLISH_READY_TO_RUN:-true}"
[ "$aot" = true ] && r2r=false
artifacts="${TMPDIR:-/tmp}/reconciler-publish-artifacts-$(pwd | sha256sum | cut -c1-12)-aot-$aot-r2r-$r2r"
rm -rf "${out:?}/$name"
dotnet publish src/Reconciler/Cli -c Release -r linux-x64 --self-contained true -p:PublishAot="$aot" \
  -p:PublishReadyToRun="$r2r" -p:PublishReadyToRunComposite="$r2r" "-p:PublishReadyToRunCrossgen2ExtraArgs=--instruction-set:x86-64-v3" \
  --artifacts-path "$artifacts" -o "$out/$name" -nologo -clp:ErrorsOnly
rm -f "$out/$name"/*.pdb "$out/$name"/*.dbg
tar -C "$out" -czf "$out/$name.tar.gz" "$name"
(cd "$out" && sha256sum "$name.tar.gz" > "$name.tar.gz.sha256")
echo "published $out/reconciler.$version.nupkg"
echo "published $out/$name.tar.gz ($(cut -c1-16 "$out/$name.tar.gz.sha256")...)"
echo "published $out/$name/reconciler"
