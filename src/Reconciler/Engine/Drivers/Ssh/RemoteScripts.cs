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

    /// <summary>Shell functions (builtins only: a fork+exec is what a loaded host is slowest at). read_marker FILE
    /// sets M_SERVICE and M_SHA from a release marker; fails when the file does not exist.</summary>
    private const string Functions = """
        read_marker() {
          M_SERVICE=; M_SHA=
          [ -f "$1" ] || return 1
          while IFS= read -r l || [ -n "$l" ]; do
            case $l in service=*) M_SERVICE=${l#service=} ;; sha256=*) M_SHA=${l#sha256=} ;; esac
          done < "$1"
        }
        """;

    /// <summary>Prints what is in the deploy path (the working directory): "C target" of current,
    /// "R mtime ./releases/ID" and "S releases/ID SHA256" per complete release, "A file" per cached artifact.
    /// One `find` whatever the number of releases. Shared by <see cref="Stage"/> (so a prune after a stage needs
    /// no listing round trip) and <see cref="List"/>.</summary>
    private const string ListBody = ListLines + "\nexit 0";

    private const string ListLines = """
        find . -maxdepth 3 \( -path ./current -type l -printf 'C %l\n' \) \
          -o \( -path './releases/*/.reconciler-release' -printf 'R %T@ %h\n' \) \
          -o \( -path './.artifacts/*.tar.gz' -printf 'A %f\n' \) 2>/dev/null || true
        for m in releases/*/.reconciler-release; do
          read_marker "$m" && printf 'S %s %s\n' "${m%/.reconciler-release}" "$M_SHA"
        done
        """;

    /// <summary>Removes what interrupted stages and switches left in the deploy path (the working directory): a stage
    /// killed with its connection (kill -9 of the applier) never runs its EXIT trap. Names ending in ".PID" belong to
    /// the shell that made them and stay while that process lives (a concurrent stage); SFTP uploads (".sftp...") are
    /// written continuously while they run, so they go once untouched for 10 minutes; $UP, this stage's own upload,
    /// stays. Runs at the start of every stage: the next visit of the host cleans up.</summary>
    private const string CleanLeftovers = """
        for f in releases/.tmp-* .artifacts/.upload-* .current.tmp.*; do
          [ -e "$f" ] || [ -L "$f" ] || continue
          [ "$f" != "$UP" ] || continue
          pid=${f##*.}
          case $pid in
            ''|*[!0-9]*) [ -z "$(find "$f" -maxdepth 0 -mmin -10 2>/dev/null)" ] || continue ;;
            *) ! kill -0 "$pid" 2>/dev/null || continue ;;
          esac
          rm -rf "$f" 2>/dev/null || true
        done
        """;

    /// <summary>$1 deploy path, $2 release id, $3 artifact sha256, $4 byte length of the config tar, $5 how the
    /// artifact arrives: "-" = on stdin after the config tar when the script asks for it (it prints "need";
    /// "have" when the host already has it), a path (relative to $1) = already uploaded by SFTP, "" = not at all
    /// (exit <see cref="ExitNeedsUpload"/> when it is needed). stdin starts with a tar of config.json, .env and the
    /// release marker. Unpacks into a temp dir renamed to releases/ID when complete, then prints the listing.</summary>
    public static readonly string Stage = Functions + "\n" + """
        set -eu
        P=$1; ID=$2; SHA=$3; N=$4; UP=$5
        [ -d "$P/releases" ] && [ -d "$P/.artifacts" ] || mkdir -p "$P/releases" "$P/.artifacts"
        cd "$P"
        CleanLeftovers
        A=".artifacts/$SHA.tar.gz"; T="releases/.tmp-$ID.$$"; U=".artifacts/.upload-$SHA.$$"
        trap '[ ! -e "$T" ] || rm -rf "$T"; [ ! -e "$U" ] || rm -f "$U"' EXIT
        mkdir "$T"
        head -c "$N" | tar -x -m -f - -C "$T"
        if read_marker "releases/$ID/.reconciler-release" && [ "$M_SHA" = "$SHA" ]; then
          mv -f "$T/config.json" "$T/.env" "$T/.reconciler-release" "releases/$ID/"
          echo present
        ListBody
        fi
        verified=no
        if [ "$UP" = "-" ]; then
          if [ -f "$A" ] && echo "$SHA  $A" | sha256sum -c --status; then
            echo have
          else
            echo need
            cat > "$U"
            if ! echo "$SHA  $U" | sha256sum -c --status; then
              echo "the uploaded artifact does not match sha256 $SHA" >&2; exit 11
            fi
            mv -f "$U" "$A"
          fi
          verified=yes
        elif [ -n "$UP" ]; then
          if ! echo "$SHA  $UP" | sha256sum -c --status; then
            rm -f "$UP"; echo "the uploaded artifact does not match sha256 $SHA" >&2; exit 11
          fi
          mv -f "$UP" "$A"; verified=yes
        fi
        [ -f "$A" ] || exit 10
        if [ $verified = no ] && ! echo "$SHA  $A" | sha256sum -c --status; then
          rm -f "$A"; echo "the artifact cached on the host does not match sha256 $SHA" >&2; exit 11
        fi
        # The config files are already in $T: the artifact must not overwrite them.
        tar -x -z -f "$A" -C "$T" --no-same-owner --skip-old-files
        if [ -e "releases/$ID" ] || [ -L "releases/$ID" ]; then
          if [ "releases/$ID" -ef current ]; then
            echo "releases/$ID exists without a matching marker and is current; refusing to replace it (move it away by hand)" >&2; exit 13
          fi
          rm -rf "releases/$ID"
        fi
        mv "$T" "releases/$ID"
        echo staged
        ListBody
        """.Replace("CleanLeftovers", CleanLeftovers, StringComparison.Ordinal).Replace("ListBody", ListBody, StringComparison.Ordinal);

    /// <summary>$1 deploy path, $2 release id, $3 restart command ("" for none), $4 host name, then paths relative to
    /// $1 to delete once the restart succeeded (the prune, folded in: no channel of its own). Switches `current`
    /// with a temporary link renamed over it (rename(2) is atomic; `current` never dangles), then runs the
    /// restart command in the release directory with stdin closed and output to .restart.log, so a daemon it
    /// leaves running does not hold the SSH channel open. A failing command's last 64 KiB of output come back: the
    /// engine cleans them of secrets before it keeps the last 4 KiB (a smaller cut here could halve a secret). A prune
    /// that cannot delete everything prints <see cref="PruneFailedMarker"/> and still exits 0.</summary>
    public static readonly string Activate = Functions + "\n" + """
        set -eu
        P=$1; ID=$2; CMD=$3
        cd "$P"
        if ! read_marker "releases/$ID/.reconciler-release"; then
          echo "release $ID is not staged in $P" >&2; exit 12
        fi
        L=".current.tmp.$$"
        ln -s "releases/$ID" "$L"
        mv -T -f "$L" current
        echo "@reconciler:switched"
        if [ -n "$CMD" ]; then
          cd "releases/$ID"
          RECONCILER_SERVICE=$M_SERVICE; RECONCILER_RELEASE=$ID; RECONCILER_DEPLOY_PATH=$P; RECONCILER_HOST=$4
          export RECONCILER_SERVICE RECONCILER_RELEASE RECONCILER_DEPLOY_PATH RECONCILER_HOST
          set +e
          /bin/sh -c "$CMD" </dev/null >"$P/.restart.log" 2>&1
          rc=$?
          set -e
          if [ $rc -ne 0 ]; then tail -c 65536 "$P/.restart.log"; exit $rc; fi
          cd "$P"
        fi
        shift 4
        [ $# -eq 0 ] || rm -rf -- "$@" 2>/dev/null || echo "@reconciler:prune-failed"
        exit 0
        """;

    public const string PruneFailedMarker = "@reconciler:prune-failed";

    /// <summary>$1 deploy path: the listing (see <see cref="ListBody"/>); nothing when the path does not exist.</summary>
    public static readonly string List = Functions + "\n" + """
        cd "$1" 2>/dev/null || exit 0
        ListBody
        """.Replace("ListBody", ListBody, StringComparison.Ordinal);

    /// <summary>The live probe's one exec per host (<see cref="SshSurvey"/>). $1 a nonce that delimits the sections, then per
    /// service: deploy path, release whose directory to look for (""), release `current` must point at for the checks to
    /// run (""), number of checks, then per check its timeout in seconds and its command. Per service it prints
    /// "@N L i", the listing (<see cref="ListLines"/>), "@N D i present" when the directory is there, "@N G i"; then per
    /// check "@N B i j" on stdout and stderr, the check's own output, and "\n@N E i j RC TIMEDOUT" (stdout) and
    /// "\n@N E i j" (stderr). A check runs as an exec would run it: the login shell, the home directory, stdin empty, and
    /// stopped at its timeout by coreutils `timeout` (exit 124); the checks stop after the first that fails.</summary>
    public static readonly string Survey = Functions + "\n" + """
        N=$1; shift
        HOME_DIR=$PWD; SH=${SHELL:-/bin/sh}
        TO=; command -v timeout >/dev/null 2>&1 && TO=timeout
        i=0
        while [ $# -ge 4 ]; do
          P=$1; DIR=$2; WANT=$3; NCHK=$4; shift 4
          RUN=no
          printf '@%s L %d\n' "$N" "$i"
          if cd "$P" 2>/dev/null; then
            ListLines
            if [ -n "$DIR" ] && [ -d "releases/$DIR" ]; then printf '@%s D %d present\n' "$N" "$i"; fi
            if [ -n "$WANT" ] && [ current -ef "releases/$WANT" ]; then RUN=yes; fi
            cd "$HOME_DIR" || exit 1
          fi
          printf '@%s G %d\n' "$N" "$i"
          j=0
          while [ "$j" -lt "$NCHK" ]; do
            T=$1; CMD=$2; shift 2
            if [ "$RUN" = yes ]; then
              printf '@%s B %d %d\n' "$N" "$i" "$j"; printf '@%s B %d %d\n' "$N" "$i" "$j" >&2
              if [ -n "$TO" ]; then "$TO" -k 5 "$T" "$SH" -c "$CMD" </dev/null; rc=$?; else "$SH" -c "$CMD" </dev/null; rc=$?; fi
              late=0; if [ -n "$TO" ] && [ "$rc" -eq 124 ]; then late=1; fi
              printf '\n@%s E %d %d %d %d\n' "$N" "$i" "$j" "$rc" "$late"; printf '\n@%s E %d %d\n' "$N" "$i" "$j" >&2
              [ "$rc" -eq 0 ] || RUN=no
            fi
            j=$((j + 1))
          done
          i=$((i + 1))
        done
        exit 0
        """.Replace("ListLines", ListLines, StringComparison.Ordinal);

    /// <summary>$1 deploy path, then paths relative to it to delete.</summary>
    public const string Delete = """
        set -eu
        cd "$1"
        shift
        rm -rf -- "$@"
        """;

    /// <summary>$1 deploy path, $2 stop command ("" for none), $3 host name, $4 release id current points at.
    /// Runs the stop command in the current release, then removes the `current` link.</summary>
    public static readonly string Remove = Functions + "\n" + """
        set -eu
        P=$1; CMD=$2
        cd "$P" 2>/dev/null || exit 0
        [ -L current ] || exit 0
        if [ -n "$CMD" ] && [ -d "releases/$4" ]; then
          cd "releases/$4"
          read_marker .reconciler-release || true
          RECONCILER_SERVICE=$M_SERVICE; RECONCILER_RELEASE=$4; RECONCILER_DEPLOY_PATH=$P; RECONCILER_HOST=$3
          export RECONCILER_SERVICE RECONCILER_RELEASE RECONCILER_DEPLOY_PATH RECONCILER_HOST
          set +e
          /bin/sh -c "$CMD" </dev/null >"$P/.restart.log" 2>&1
          rc=$?
          set -e
          if [ $rc -ne 0 ]; then tail -c 65536 "$P/.restart.log"; exit $rc; fi
          cd "$P"
        fi
        rm -f current
        """;

    /// <summary>$1 deploy path, $2 release id: prints the release's service name.</summary>
    public static readonly string ReadService = Functions + "\n" + """
        read_marker "$1/releases/$2/.reconciler-release" && printf '%s\n' "$M_SERVICE"
        exit 0
        """;
}
