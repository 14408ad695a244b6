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

    /// <summary>The deploy path as commands on the host see it (checks interpolate ${deploy.path} with it). It is the
    /// path itself unless the driver keeps hosts elsewhere (the local driver maps each host under its own root).</summary>
    string PathOnHost(string deployPath) => deployPath;

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

public sealed record CommandResult(int ExitCode, string Output);

/// <summary>A host step failed (connection, command, upload). Message is user-facing and names the host.</summary>
public sealed class HostStepException(string host, string step, string message, Exception? inner = null)
    : Exception($"{host}: {step} failed: {message}", inner)
{
    public string HostName { get; } = host;
    public string Step { get; } = step;

    /// <summary>The message without the host and step prefix.</summary>
    public string Detail { get; } = message;
}
