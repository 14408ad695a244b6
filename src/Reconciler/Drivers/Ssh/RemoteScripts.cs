namespace Reconciler.Drivers.Ssh;

/// <summary>
/// The shell scripts the ssh driver runs on hosts. They are constants: values arrive only as positional
/// parameters ($1, $2, ...) quoted by <see cref="Shell.Script"/>, so no value is ever parsed as shell syntax.
/// POSIX sh plus GNU coreutils/findutils/tar (mv -T, sha256sum, find -printf), as on any Debian/RHEL host.
/// Each script is one exec channel on the host's one SSH connection: a stage is one round trip when the
/// artifact is already on the host, three when it must be uploaded.
/// </summary>
internal static class RemoteScripts
{
    public const int ExitNeedsUpload = 10;
    public const int ExitChecksumMismatch = 11;
    public const int ExitNotStaged = 12;
    public const int ExitForeignRelease = 13;
    public const string SwitchedMarker = "@reconciler:switched";

    /// <summary>$1 deploy path, $2 release id, $3 artifact sha256, $4 uploaded temp file (relative to $1) or "".
    /// stdin: a tar of config.json, .env and the release marker. Makes releases/ID complete or exits
    /// <see cref="ExitNeedsUpload"/> when neither the release nor its artifact is on the host.</summary>
    public const string Stage = """
        set -eu
        P=$1; ID=$2; SHA=$3; UP=$4
        mkdir -p "$P/releases" "$P/.artifacts"
        cd "$P"
        A=".artifacts/$SHA.tar.gz"
        T="releases/.tmp-$ID.$$"
        trap 'rm -rf "$T" "$T.cfg"' EXIT
        rm -rf "$T" "$T.cfg"
        mkdir "$T.cfg"
        tar -x -m -f - -C "$T.cfg"
        chmod 600 "$T.cfg/config.json" "$T.cfg/.env"
        if [ -f "releases/$ID/.reconciler-release" ] && grep -qx "sha256=$SHA" "releases/$ID/.reconciler-release"; then
          for f in config.json .env .reconciler-release; do mv -f "$T.cfg/$f" "releases/$ID/$f"; done
          echo present
          exit 0
        fi
        if [ -n "$UP" ]; then
          if ! echo "$SHA  $UP" | sha256sum -c --status; then
            rm -f "$UP"; echo "the uploaded artifact does not match sha256 $SHA" >&2; exit 11
          fi
          mv -f "$UP" "$A"
        fi
        [ -f "$A" ] || exit 10
        if ! echo "$SHA  $A" | sha256sum -c --status; then
          rm -f "$A"; echo "the artifact cached on the host does not match sha256 $SHA" >&2; exit 11
        fi
        mkdir "$T"
        tar -x -z -f "$A" -C "$T" --no-same-owner
        for f in config.json .env .reconciler-release; do mv -f "$T.cfg/$f" "$T/$f"; done
        if [ -e "releases/$ID" ] || [ -L "releases/$ID" ]; then
          if [ "$(readlink current 2>/dev/null || true)" = "releases/$ID" ]; then
            echo "releases/$ID exists without a matching marker and is current; refusing to replace it (move it away by hand)" >&2; exit 13
          fi
          rm -rf "releases/$ID"
        fi
        mv "$T" "releases/$ID"
        echo staged
        """;

    /// <summary>$1 file to write (relative to $2), $2 deploy path. stdin: the artifact. The upload path when
    /// uploads go over the exec channel instead of SFTP.</summary>
    public const string Upload = """
        set -eu
        cd "$2"
        cat > "$1"
        """;

    /// <summary>$1 deploy path, $2 release id, $3 restart command ("" for none), $4 host name. Switches `current`
    /// with a temporary link renamed over it (rename(2) is atomic; `current` never dangles), then runs the
    /// restart command in the release directory with stdin closed and output to .restart.log, so a daemon it
    /// leaves running does not hold the SSH channel open.</summary>
    public const string Activate = """
        set -eu
        P=$1; ID=$2; CMD=$3
        cd "$P"
        if [ ! -f "releases/$ID/.reconciler-release" ]; then
          echo "release $ID is not staged in $P" >&2; exit 12
        fi
        L=".current.tmp.$$"
        rm -f "$L"
        ln -s "releases/$ID" "$L"
        mv -T -f "$L" current
        echo "@reconciler:switched"
        [ -n "$CMD" ] || exit 0
        cd "releases/$ID"
        RECONCILER_SERVICE=$(sed -n 's/^service=//p' .reconciler-release)
        RECONCILER_RELEASE=$ID; RECONCILER_DEPLOY_PATH=$P; RECONCILER_HOST=$4
        export RECONCILER_SERVICE RECONCILER_RELEASE RECONCILER_DEPLOY_PATH RECONCILER_HOST
        set +e
        /bin/sh -c "$CMD" </dev/null >"$P/.restart.log" 2>&1
        rc=$?
        tail -c 2000 "$P/.restart.log"
        exit $rc
        """;

    /// <summary>$1 deploy path. Prints "C target", "R mtime id sha256" per complete release, "A file" per cached
    /// artifact. Prints nothing when the deploy path does not exist.</summary>
    public const string List = """
        cd "$1" 2>/dev/null || exit 0
        printf 'C %s\n' "$(readlink current 2>/dev/null || true)"
        find releases -mindepth 2 -maxdepth 2 -name .reconciler-release -printf '%T@ %h\n' 2>/dev/null |
          while read -r t d; do printf 'R %s %s %s\n' "$t" "${d#releases/}" "$(sed -n 's/^sha256=//p' "$d/.reconciler-release")"; done
        find .artifacts -mindepth 1 -maxdepth 1 -name '*.tar.gz' -printf 'A %f\n' 2>/dev/null
        exit 0
        """;

    /// <summary>$1 deploy path, then paths relative to it to delete.</summary>
    public const string Delete = """
        set -eu
        cd "$1"
        shift
        rm -rf -- "$@"
        """;

    /// <summary>$1 deploy path, $2 stop command ("" for none), $3 host name, $4 release id current points at.
    /// Runs the stop command in the current release, then removes the `current` link.</summary>
    public const string Remove = """
        set -eu
        P=$1; CMD=$2
        cd "$P" 2>/dev/null || exit 0
        [ -L current ] || exit 0
        if [ -n "$CMD" ] && [ -d "releases/$4" ]; then
          cd "releases/$4"
          RECONCILER_SERVICE=$(sed -n 's/^service=//p' .reconciler-release 2>/dev/null || true)
          RECONCILER_RELEASE=$4; RECONCILER_DEPLOY_PATH=$P; RECONCILER_HOST=$3
          export RECONCILER_SERVICE RECONCILER_RELEASE RECONCILER_DEPLOY_PATH RECONCILER_HOST
          set +e
          /bin/sh -c "$CMD" </dev/null >"$P/.restart.log" 2>&1
          rc=$?
          set -e
          if [ $rc -ne 0 ]; then tail -c 2000 "$P/.restart.log"; exit $rc; fi
          cd "$P"
        fi
        rm -f current
        """;

    /// <summary>$1 deploy path, $2 release id: prints the release's marker file.</summary>
    public const string ReadMarker = """
        cat "$1/releases/$2/.reconciler-release" 2>/dev/null || true
        """;
}
