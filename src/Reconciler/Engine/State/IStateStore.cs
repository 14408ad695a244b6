using System.Collections.Immutable;
using Reconciler.Diff.Live;

namespace Reconciler.State;

/// <summary>
/// Live state of every environment, with compare-and-set writes. Implementations: SQLite (default) and
/// Consul KV. All of them pass the same contract suite (tests/Reconciler.Engine.Tests/State). docs/state.md.
/// </summary>
public interface IStateStore : IAsyncDisposable
{
    /// <summary>"sqlite:/abs/path/state.db" or "consul://host:port/prefix", for messages.</summary>
    string Describe { get; }

    Task<LiveState> ReadAsync(string environment, CancellationToken ct);

    /// <summary>As <see cref="ReadAsync(string, CancellationToken)"/> for a plan with a <see cref="ConvergedMemo"/>: each
    /// service is marked with the memo's digest of its stored bytes, and one whose bytes an entry lists comes back
    /// undecoded (<see cref="LiveService.Deferred"/>); every other service is decoded, so a corrupt one fails the read.
    /// Pass <see cref="ConvergedMemoMatch.Deferrable"/>: the services the plan settles without reading them. A store
    /// that cannot do that reads as usual.</summary>
    Task<LiveState> ReadAsync(string environment, ConvergedMemo? memo, CancellationToken ct) => ReadAsync(environment, ct);

    /// <summary>The live state of only the named services (names without an entry are left out), with every toggle and the
    /// environment's version, as one read: what an incremental plan reads when the store's version tells it that
    /// nothing else can have changed. The default reads everything and keeps the named services; a store that can read
    /// rows by name reads only those (SQLite).</summary>
    async Task<LiveState> ReadServicesAsync(string environment, IReadOnlyCollection<string> services, CancellationToken ct)
    {
        var all = await ReadAsync(environment, ct).ConfigureAwait(false);
        var wanted = services.ToHashSet(StringComparer.Ordinal);
        return all with { Services = all.Services.Where(s => wanted.Contains(s.Key)).ToImmutableSortedDictionary(StringComparer.Ordinal) };
    }

    /// <summary>Applies <paramref name="change"/> all or nothing if the environment is still at
    /// <paramref name="expectedVersion"/>; returns the new version. Throws <see cref="StateConflictException"/>.</summary>
    Task<long> WriteAsync(string environment, long expectedVersion, StateChange change, CancellationToken ct);

    // Apply journal: every step of an apply is recorded, so a crashed apply resumes.
    Task AppendJournalAsync(JournalEntry entry, CancellationToken ct);
    /// <summary>Appends <paramref name="entries"/> in order, as the executor's parallel host steps journal at once (a group
    /// commit). When it returns, every entry is stored as <see cref="AppendJournalAsync(JournalEntry, CancellationToken)"/>
    /// stores one; when it throws, any of them may be missing. The default appends them concurrently, one call each.</summary>
    Task AppendJournalAsync(IReadOnlyList<JournalEntry> entries, CancellationToken ct) =>
        Task.WhenAll(entries.Select(e => AppendJournalAsync(e, ct)));
    /// <summary>Entries of the environment's unfinished apply (empty when none), in append order.</summary>
    Task<IReadOnlyList<JournalEntry>> ReadOpenJournalAsync(string environment, CancellationToken ct);
    /// <summary>Marks the apply finished; its entries stop being returned by ReadOpenJournalAsync.</summary>
    Task CloseJournalAsync(string environment, string applyId, CancellationToken ct);

    Task AppendHistoryAsync(HistoryEntry entry, CancellationToken ct);
    /// <summary>Newest first.</summary>
    Task<IReadOnlyList<HistoryEntry>> ReadHistoryAsync(string environment, int limit, CancellationToken ct);

    Task QuarantineAsync(string environment, QuarantinedCommit commit, CancellationToken ct);
    Task<IReadOnlyList<QuarantinedCommit>> ReadQuarantineAsync(string environment, CancellationToken ct);
    /// <summary>Lifts the quarantine of <paramref name="commit"/> (`reconciler state unquarantine`); false when it was not
    /// quarantined.</summary>
    Task<bool> UnquarantineAsync(string environment, string commit, CancellationToken ct);

    /// <summary>Takes the lock if free or expired; otherwise returns who holds it.</summary>
    Task<LockAttempt> TryAcquireLockAsync(string environment, string owner, string reason, TimeSpan ttl, CancellationToken ct);
    /// <summary>Extends the TTL; false if the lock is no longer held by <paramref name="owner"/>.</summary>
    Task<bool> RenewLockAsync(string environment, string owner, TimeSpan ttl, CancellationToken ct);
    /// <summary>Releases if held by <paramref name="owner"/> (or by anyone when <paramref name="force"/>).</summary>
    Task<bool> ReleaseLockAsync(string environment, string owner, bool force, CancellationToken ct);
    Task<LockInfo?> ReadLockAsync(string environment, CancellationToken ct);
    /// <summary>Completes when <paramref name="owner"/> no longer holds the lock (taken over, expired, its session
    /// invalidated); throws when the store cannot tell. A store that learns of a lost lock only when renewing (SQLite:
    /// nobody else can invalidate it) never completes before <paramref name="ct"/> is cancelled.</summary>
    Task WatchLockAsync(string environment, string owner, CancellationToken ct) => Task.Delay(Timeout.Infinite, ct);

    Task SetFreezeAsync(string environment, FreezeInfo? freeze, CancellationToken ct);
    Task<FreezeInfo?> ReadFreezeAsync(string environment, CancellationToken ct);
}

/// <summary>A set of changes written atomically. Services are replaced whole (hosts included).</summary>
public sealed record StateChange(
    ImmutableArray<LiveService> UpsertServices,
    ImmutableArray<string> RemoveServices,
    ImmutableArray<LiveToggle> UpsertToggles,
    ImmutableArray<string> RemoveToggles,
    string? LastGoodCommit = null)
{
    public static StateChange Empty { get; } = new([], [], [], []);
}

public enum JournalStatus { Started, Finished, Failed }

/// <summary>One step of an apply. <see cref="Step"/> is a stable key such as "w1/api/host/web-1/activate".</summary>
public sealed record JournalEntry(
    string Environment,
    string ApplyId,
    string Commit,
    string Step,
    JournalStatus Status,
    DateTimeOffset At,
    string? Detail);

/// <summary>How an apply ended. <see cref="EnvironmentFault"/>: the environment failed (a secret, a host, the network, a
/// disk), what changed was rolled back and the commit is not quarantined; it is retried. <see cref="Unquarantined"/>: not
/// an apply; an operator lifted the commit's quarantine (the history entry's message says who and why).</summary>
public enum ApplyResult { Succeeded, NoChanges, RolledBack, Halted, Failed, Interrupted, LockBroken, EnvironmentFault, Unquarantined }

public sealed record HistoryEntry(
    string Id,
    string Environment,
    string Commit,
    string? CommitAuthor,
    string AppliedBy,
    DateTimeOffset Started,
    DateTimeOffset? Finished,
    ApplyResult Result,
    ImmutableSortedDictionary<string, string> ServiceOutcomes,   // service -> "upgraded 1.4.2 -> 1.5.0", "rolled back", ...
    string? Message);

public sealed record QuarantinedCommit(string Commit, string Reason, DateTimeOffset At);

public sealed record LockInfo(string Environment, string Owner, string Reason, DateTimeOffset AcquiredAt, DateTimeOffset ExpiresAt);

public sealed record LockAttempt(bool Acquired, LockInfo Holder);

public sealed record FreezeInfo(string Reason, string By, DateTimeOffset At);

/// <summary>Compare-and-set lost: someone else wrote first. Names the key and both versions.</summary>
public sealed class StateConflictException(string key, long expectedVersion, long actualVersion)
    : ReconcilerException(FailureKind.StaleOrConflict,
        $"live state of '{key}' changed while this run worked: expected version {expectedVersion}, found {actualVersion}. " +
        "Another apply wrote first; plan again.")
{
    public string Key { get; } = key;
    public long ExpectedVersion { get; } = expectedVersion;
    public long ActualVersion { get; } = actualVersion;
}

/// <summary>The store cannot be used: unreachable, corrupt, or access denied. Nothing was written.</summary>
public sealed class StateStoreUnavailableException(string message, Exception? inner = null)
    : ReconcilerException(FailureKind.StoreUnavailable, message, inner)
{
    public Exception? Cause { get; } = inner;
}
