using System.Collections.Immutable;
using Reconciler.Schema.Model;

namespace Reconciler.Drivers;

/// <summary>
/// How a service reaches a host. One driver instance per apply; it keeps one connection per host and reuses
/// it for every step (connections are the cost to minimise, see docs/benchmarks.md). Implementations:
/// SshHostDriver (SSH.NET), LocalHostDriver (this machine's filesystem), ConsulKvDriver (KV keys).
/// Every method is idempotent: calling it again after a crash converges.
/// </summary>
public interface IHostDriver : IAsyncDisposable
{
    DriverKind Kind { get; }

    /// <summary>Opens (or returns the already open) session to <paramref name="host"/>.</summary>
    Task<IHostSession> OpenAsync(HostSpec host, CancellationToken ct);
}

public interface IHostSession
{
    HostSpec Host { get; }

    /// <summary>Which release `current` points at (null if none) and which releases are on disk.</summary>
    Task<HostReleases> InspectAsync(string deployPath, CancellationToken ct);

    /// <summary>Puts the release on the host without making it current: uploads the artifact only when the
    /// release is not already there with the same checksum, unpacks into releases/ID via a temporary directory
    /// and a rename (a half-unpacked release is never visible under its final name), writes config.json and .env.</summary>
    Task StageAsync(ReleaseBundle bundle, CancellationToken ct);

    /// <summary>Switches `current` to the release atomically (temporary link + rename), then runs the restart
    /// command in the release directory. Safe to repeat.</summary>
    Task ActivateAsync(string deployPath, string releaseId, string? restartCommand, CancellationToken ct);

    /// <summary><see cref="ActivateAsync"/>, then, once the restart succeeded, <see cref="PruneAsync"/> (the release just
    /// activated is current). A driver that can do both in one round trip does (ssh: the activation script deletes what the
    /// stage's listing says is surplus, so a host needs no exec channel of its own for pruning). Returns null, or why
    /// pruning did not finish: old releases left on disk cost space, not correctness, so that is a warning for the caller
    /// to report, never a failure of the switch. A failing switch or restart throws as <see cref="ActivateAsync"/> does.</summary>
    async Task<string?> ActivateAndPruneAsync(string deployPath, string releaseId, string? restartCommand, int keep,
        ImmutableArray<string> protect, CancellationToken ct)
    {
        await ActivateAsync(deployPath, releaseId, restartCommand, ct);
        try
        {
            await PruneAsync(deployPath, keep, protect, ct);
            return null;
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            return e.Message;
        }
    }

    /// <summary>The deploy path as commands on the host see it (checks interpolate ${deploy.path} with it). It is the
    /// path itself unless the driver keeps hosts elsewhere (the local driver maps each host under its own root).</summary>
    string PathOnHost(string deployPath) => deployPath;

    /// <summary>Bytes free for an unprivileged writer on the file system that holds <paramref name="deployPath"/> (or its
    /// nearest existing parent), for preflight; null when the driver cannot tell (it then never blocks an apply).</summary>
    Task<long?> FreeBytesAsync(string deployPath, CancellationToken ct) => Task.FromResult<long?>(null);

    /// <summary>Answers every query (one per service on the host) in one round trip: the live probe's fast path. Null when
    /// the driver cannot (the default): the caller then asks with <see cref="InspectAsync"/> and <see cref="RunAsync"/>, call
    /// by call, and gets the same answers (docs/architecture.md, "live probe").</summary>
    Task<IReadOnlyList<SurveyAnswer>?> SurveyAsync(IReadOnlyList<SurveyQuery> queries, CancellationToken ct) =>
        Task.FromResult<IReadOnlyList<SurveyAnswer>?>(null);

    /// <summary>Runs a command on the host (for command health checks). Never throws for a non-zero exit.</summary>
    Task<CommandResult> RunAsync(string command, TimeSpan timeout, CancellationToken ct);

    /// <summary>Keeps the newest <paramref name="keep"/> releases; never deletes one in <paramref name="protect"/>
    /// (the current and the previous release).</summary>
    Task PruneAsync(string deployPath, int keep, ImmutableArray<string> protect, CancellationToken ct);

    /// <summary>Removes the service from the host: runs the stop command, removes the `current` link. Releases
    /// stay on disk so a revert can bring the service back quickly.</summary>
    Task RemoveAsync(string deployPath, string? stopCommand, CancellationToken ct);
}

public sealed record HostReleases(string? Current, ImmutableArray<string> Releases);

/// <summary>Everything needed to put one release on a host. <see cref="Config"/> holds resolved values
/// (secrets included): it is written to the host and never logged.</summary>
public sealed record ReleaseBundle(
    string Service,
    string DeployPath,
    string ReleaseId,
    string ArtifactPath,                              // local file (fetched and checksum-verified)
    string ArtifactSha256,
    ImmutableSortedDictionary<string, string> Config);

/// <summary>A command's exit code and output; <see cref="TimedOut"/> when it was stopped at its timeout (exit code 124).</summary>
public sealed record CommandResult(int ExitCode, string Output, bool TimedOut = false)
{
    public static CommandResult Timeout(TimeSpan after) => new(124, $"timed out after {after.TotalSeconds:0.###}s", TimedOut: true);
}

/// <summary>A host step failed (connection, command, upload). Message is user-facing, names the host and never ends in
/// "..". <see cref="Kind"/> says whose fault it is: a restart that fails or a config that cannot be written is the
/// commit's (<see cref="FailureKind.CommitFault"/>, see <see cref="CommitFault"/>); everything else a host step can meet
/// (unreachable, refused, dropped, timed out, full disk) is the environment's.</summary>
public sealed class HostStepException(string host, string step, string message, Exception? inner = null,
    FailureKind kind = FailureKind.EnvironmentFault)
    : Exception($"{host}: {step} failed: {message.TrimEnd().TrimEnd('.')}", inner)
{
    public string HostName { get; } = host;
    public string Step { get; } = step;
    public FailureKind Kind { get; } = kind;

    /// <summary>The message without the host and step prefix.</summary>
    public string Detail { get; } = message;

    /// <summary>The commit's new release is at fault on a host that works (its restart failed, its config cannot be written).</summary>
    public static HostStepException CommitFault(string host, string step, string message) => new(host, step, message, kind: FailureKind.CommitFault);
}
