# Sourced by bench/load.sh and bench/plan.sh: builds the CLI the way each case needs and generates the benchmark repo.
# Needs: $builds (any of "build", "r2r", "shipped"), $r2r_dir, $repo, $services.

# The plain Release build (JIT at start-up), a framework-dependent ReadyToRun publish, and the shipped build
# (scripts/publish.sh: self-contained, one composite ReadyToRun image of app and runtime).
# BENCH_SHIPPED_DIR: a directory scripts/publish.sh already filled from this checkout (publishing takes minutes), used as is.
shipped_dir="${BENCH_SHIPPED_DIR:-${TMPDIR:-/tmp}/reconciler-bench-shipped}"
build_cli() {
  dotnet build bench/Reconciler.Bench -c Release -nologo -clp:ErrorsOnly >/dev/null
  case " $builds " in *" build "*) dotnet build src/Reconciler/Cli -c Release -nologo -clp:ErrorsOnly >/dev/null ;; esac
  case " $builds " in *" r2r "*)
    dotnet publish src/Reconciler/Cli -c Release -r linux-x64 --self-contained false -p:PublishReadyToRun=true \
      -o "$r2r_dir" -nologo -clp:ErrorsOnly >/dev/null ;;
  esac
  case " $builds " in *" shipped "*) [ -n "${BENCH_SHIPPED_DIR:-}" ] || scripts/publish.sh "$shipped_dir" >/dev/null ;; esac
}

# The command that runs the CLI of one build.
cli_of() {
  case "$1" in
    shipped) echo "$shipped_dir"/reconciler-*-linux-x64/reconciler ;;
    r2r) echo "dotnet $r2r_dir/reconciler.dll" ;;
    *) echo "dotnet src/Reconciler/Cli/bin/Release/net10.0/reconciler.dll" ;;
  esac
}

# 5,000 services x 3 environments (+ 100 toggles) as one commit, generated once and reused.
generate_repo() {
  if [ ! -d "$repo/.git" ]; then
    dotnet bench/Reconciler.Bench/bin/Release/net10.0/Reconciler.Bench.dll generate-repo "$repo" --services "$services" --toggles 100
    # A clone is packed; so is the benchmark repo (loose objects cost ~2x on the Git read).
    git -C "$repo" gc -q
  fi
}
