# Sourced by bench/load.sh and bench/plan.sh: builds the CLI the way each case needs and generates the benchmark repo.
# Needs: $builds ("build", "r2r" or both), $r2r_dir, $repo, $services.

# The plain Release build (JIT at start-up) and a ReadyToRun publish (precompiled, how the CLI is meant to ship).
build_cli() {
  dotnet build bench/Reconciler.Bench -c Release -nologo -clp:ErrorsOnly >/dev/null
  case " $builds " in *" build "*) dotnet build src/Reconciler -c Release -nologo -clp:ErrorsOnly >/dev/null ;; esac
  case " $builds " in *" r2r "*)
    dotnet publish src/Reconciler -c Release -r linux-x64 --self-contained false -p:PublishReadyToRun=true \
      -o "$r2r_dir" -nologo -clp:ErrorsOnly >/dev/null ;;
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
