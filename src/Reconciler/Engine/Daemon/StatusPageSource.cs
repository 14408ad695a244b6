using System.Collections.Immutable;
using Reconciler.Schema.Model;
using Reconciler.State;

namespace Reconciler.Daemon;

/// <summary>Everything the daemon's status page (`GET /`) shows, read at <paramref name="At"/>.</summary>
public sealed record StatusPage(DateTimeOffset At, ImmutableArray<EnvironmentPage> Environments);

/// <summary>One environment on the page: the daemon's own status (in-flight apply, last result, lock, quarantine, and
/// the live look at the hosts when the drift check made one), the store's recorded state against the desired state
/// at the branch head (<see cref="StatusReport"/>), and recent history.</summary>
/// <param name="RecordedError">Why <paramref name="Recorded"/> or <paramref name="History"/> could not be read (store
/// down), or why the head's desired state is missing (it does not validate).</param>
public sealed record EnvironmentPage(EnvironmentStatus Status, StatusReport? Recorded, ImmutableArray<HistoryEntry> History, string? RecordedError);

/// <summary>The seam the HTTP side reads the page through (tests decorate it, e.g. to add a live look).</summary>
public interface IStatusPageSource
{
    Task<StatusPage> ReadAsync(CancellationToken ct);
}

/// <summary>Reads the page from a running <see cref="GitOpsDaemon"/> and its store. The desired state of the branch head
/// is loaded once per head (the page refreshes every few seconds; a head changes rarely).</summary>
public sealed class StatusPageSource(GitOpsDaemon daemon, TimeProvider time, IStateStore? store = null,
    IDesiredStateLoader? loader = null, string? repositoryPath = null) : IStatusPageSource
{
    /// <summary>How many recent deploys the page lists.</summary>
    public const int HistoryDepth = 15;

    private readonly object _cacheLock = new();
    private (string Commit, DesiredState? Desired, string? Error)? _desired;

    public async Task<StatusPage> ReadAsync(CancellationToken ct)
    {
        var status = await daemon.GetStatusAsync(ct);
        var environments = ImmutableArray.CreateBuilder<EnvironmentPage>();
        foreach (var env in status.Environments)
            environments.Add(await ReadEnvironmentAsync(env, ct));
        return new StatusPage(time.GetUtcNow(), environments.ToImmutable());
    }

    private async Task<EnvironmentPage> ReadEnvironmentAsync(EnvironmentStatus env, CancellationToken ct)
    {
        if (store is null) return new EnvironmentPage(env, null, [], null);
        var (desired, desiredError) = DesiredAt(env.BranchHead, env.Environment);
        try
        {
            var history = await store.ReadHistoryAsync(env.Environment, HistoryDepth, ct);
            var recorded = StatusReports.Build(desired, await store.ReadAsync(env.Environment, ct), history,
                await store.ReadQuarantineAsync(env.Environment, ct), await store.ReadLockAsync(env.Environment, ct),
                await store.ReadFreezeAsync(env.Environment, ct));
            return new EnvironmentPage(env, recorded, [.. history], desiredError);
        }
        catch (ReconcilerException e)
        {
            return new EnvironmentPage(env, null, [], e.Message);
        }
    }

    private (DesiredState? Desired, string? Error) DesiredAt(string? commit, string environment)
    {
        if (commit is null || loader is null || repositoryPath is null) return (null, null);
        lock (_cacheLock)
        {
            if (_desired is { } cached && cached.Commit == commit) return (cached.Desired, cached.Error);
        }
        (DesiredState?, string?) loaded;
        try
        {
            loaded = (loader.Load(repositoryPath, commit, environment), null);
        }
        catch (ReconcilerException e)
        {
            loaded = (null, $"the desired state at {(commit.Length > 12 ? commit[..12] : commit)} could not be read: {e.Message}");
        }
        lock (_cacheLock) _desired = (commit, loaded.Item1, loaded.Item2);
        return loaded;
    }
}
