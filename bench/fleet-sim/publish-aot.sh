#!/usr/bin/env bash
# Publishes bench/fleet-sim as Native AOT, compiled the way the shipped CLI is (scripts/publish.sh): same runtime
# settings, same roots for the libraries that work by reflection, the x86-64 baseline. The executable and its .dbg
# (symbols for `perf report`) land in OUT (default bench/fleet-sim/bin/aot/):
#   bench/fleet-sim/publish-aot.sh && bench/fleet-sim/bin/aot/Reconciler.Bench.FleetSim apply 10000 20 3
# The JIT build stays `dotnet build bench/fleet-sim -c Release`. The AOT compile takes a few minutes on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/../.."
out="$(mkdir -p "${1:-bench/fleet-sim/bin/aot}" && cd "${1:-bench/fleet-sim/bin/aot}" && pwd)"
# Its own artifacts path, as in scripts/publish.sh: a self-contained publish must not share obj/ with the
# framework-dependent builds; one per checkout.
artifacts="${TMPDIR:-/tmp}/reconciler-fleet-sim-aot-$(pwd | sha256sum | cut -c1-12)"
dotnet publish bench/fleet-sim -c Release -r linux-x64 --self-contained true -p:PublishAot=true \
  --artifacts-path "$artifacts" -o "$out" -nologo -clp:ErrorsOnly
echo "published $out/Reconciler.Bench.FleetSim"
