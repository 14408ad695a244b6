#!/usr/bin/env bash
# Builds what a release ships, into OUT (default dist/):
#   reconciler.<version>.nupkg                  the .NET tool package: `dotnet tool install reconciler --add-source OUT`
#                                               (framework-dependent: needs the .NET 10 runtime, like every .NET tool)
#   reconciler-<version>-linux-x64/             the self-contained CLI (no .NET install needed), compiled ahead of time
#                                               as one composite ReadyToRun image of the app and the runtime together
#   reconciler-<version>-linux-x64.tar.gz       that directory as a tarball, and
#   reconciler-<version>-linux-x64.tar.gz.sha256  its checksum in `sha256sum --check` form
# Composite ReadyToRun: a short `plan` or `validate` then spends no time compiling; framework-dependent ReadyToRun still
# JIT-compiles ~900 methods per run (generic code shared with the framework), a third of a warm plan's CPU
# (docs/benchmarks/planner.md). The runtime packs come from the NuGet feed like any package (they are served here).
# The image targets x86-64-v3 (AVX2: every x86 server CPU since 2013): compiled for the baseline, every method that uses
# 256-bit vectors (hashing, searching, UTF-8) is rejected at start-up and JIT-compiled again (~55 of a plan's ~245 JIT
# compilations here). On an older CPU the runtime does not use the precompiled code and compiles at start-up (slower,
# the same behaviour).
# Usage: scripts/publish.sh [OUT]. The composite ReadyToRun compile takes minutes on 2 cores (20 on a loaded machine);
# PUBLISH_READY_TO_RUN=false skips it (still self-contained, JIT at start-up): the install tests use that.
set -euo pipefail
cd "$(dirname "$0")/.."
out="$(mkdir -p "${1:-dist}" && cd "${1:-dist}" && pwd)"
version="$(dotnet msbuild src/Reconciler/Cli -getProperty:Version -nologo)"
name="reconciler-$version-linux-x64"

dotnet pack src/Reconciler/Cli -c Release -o "$out" -nologo -clp:ErrorsOnly

# Its own artifacts path: a self-contained publish must not share obj/ with the framework-dependent builds (their
# later ReadyToRun publishes pick up the wrong runtime pack and the CLI aborts at start-up); one per checkout, so two
# checkouts publishing at once do not share one either.
r2r="${PUBLISH_READY_TO_RUN:-true}"
artifacts="${TMPDIR:-/tmp}/reconciler-publish-artifacts-$(pwd | sha256sum | cut -c1-12)-r2r-$r2r"
rm -rf "${out:?}/$name"
dotnet publish src/Reconciler/Cli -c Release -r linux-x64 --self-contained true \
  -p:PublishReadyToRun="$r2r" -p:PublishReadyToRunComposite="$r2r" "-p:PublishReadyToRunCrossgen2ExtraArgs=--instruction-set:x86-64-v3" \
  --artifacts-path "$artifacts" -o "$out/$name" -nologo -clp:ErrorsOnly
rm -f "$out/$name"/*.pdb
tar -C "$out" -czf "$out/$name.tar.gz" "$name"
(cd "$out" && sha256sum "$name.tar.gz" > "$name.tar.gz.sha256")
echo "published $out/reconciler.$version.nupkg"
echo "published $out/$name.tar.gz ($(cut -c1-16 "$out/$name.tar.gz.sha256")...)"
echo "published $out/$name/reconciler"
