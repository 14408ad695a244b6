using Reconciler.Diff.Live;
using Reconciler.State;

namespace Reconciler.Engine.Tests.Execution;

/// <summary>
/// Wraps a real store and simulates kill -9: once <see cref="CrashAfterJournalEntries"/> journal entries were
/// appended (the last one included, as if the process died right after the write), every call throws until
/// <see cref="Revive"/>. Nothing the dead process would have done afterwards reaches the store, and until then it is the
/// inner store unchanged (State/CrashingStoreContractTests runs the store contract through it).
/// </summary>
public sealed class CrashingStore(IStateStore inner) : IStateStore
{
    private int _appended;
    private volatile bool _crashed;

    public int? CrashAfterJournalEntries { get; set; }

    /// <summary>Dies at the first journal write (a single entry or a group) any of whose entries match, before storing
    /// any of them: a kill -9 while the group was being written.</summary>
    public Func<JournalEntry, bool>? CrashBeforeWriting { get; set; }

    /// <summary>Runs before every live-state write reaches the inner store (a test looks at what the store holds then).</summary>
    public Func<IStateStore, Task>? BeforeStateWrite { get; set; }
    public int Appended => _appended;
    public string Describe => inner.Describe;

    public void Revive() { _crashed = false; CrashAfterJournalEntries = null; CrashBeforeWriting = null; }

    private T Alive<T>(Func<T> call) => _crashed ? throw new SimulatedCrashException() : call();

    public Task<LiveState> ReadAsync(string environment, CancellationToken ct) => Alive(() => inner.ReadAsync(environment, ct));
    public Task<LiveState> ReadAsync(string environment, ConvergedMemo? memo, CancellationToken ct) => Alive(() => inner.ReadAsync(environment, memo, ct));
    public async Task<long> WriteAsync(string environment, long expectedVersion, StateChange change, CancellationToken ct)
    {
        if (!_crashed && BeforeStateWrite is { } before) await before(inner);
        return await Alive(() => inner.WriteAsync(environment, expectedVersion, change, ct));
    }

    /// <summary>One entry after another, as the default does, unless <see cref="CrashBeforeWriting"/> kills the group first.</summary>
    public async Task AppendJournalAsync(IReadOnlyList<JournalEntry> entries, CancellationToken ct)
    {
        CrashIfAnyMatches(entries);
        foreach (var entry in entries) await AppendOneAsync(entry, ct);
    }

    public Task AppendJournalAsync(JournalEntry entry, CancellationToken ct)
    {
        CrashIfAnyMatches([entry]);
        return AppendOneAsync(entry, ct);
    }

    private void CrashIfAnyMatches(IReadOnlyList<JournalEntry> entries)
    {
        if (_crashed || CrashBeforeWriting is not { } match || !entries.Any(match)) return;
        _crashed = true;
        throw new SimulatedCrashException();
    }

    private async Task AppendOneAsync(JournalEntry entry, CancellationToken ct)
    {
        await Alive(() => inner.AppendJournalAsync(entry, ct));
        if (Interlocked.Increment(ref _appended) >= CrashAfterJournalEntries)
        {
            _crashed = true;
            throw new SimulatedCrashException();
        }
    }

    public Task<IReadOnlyList<JournalEntry>> ReadOpenJournalAsync(string environment, CancellationToken ct) => Alive(() => inner.ReadOpenJournalAsync(environment, ct));
    public Task CloseJournalAsync(string environment, string applyId, CancellationToken ct) => Alive(() => inner.CloseJournalAsync(environment, applyId, ct));
    public Task AppendHistoryAsync(HistoryEntry entry, CancellationToken ct) => Alive(() => inner.AppendHistoryAsync(entry, ct));
    public Task<IReadOnlyList<HistoryEntry>> ReadHistoryAsync(string environment, int limit, CancellationToken ct) => Alive(() => inner.ReadHistoryAsync(environment, limit, ct));
    public Task QuarantineAsync(string environment, QuarantinedCommit commit, CancellationToken ct) => Alive(() => inner.QuarantineAsync(environment, commit, ct));
    public Task<IReadOnlyList<QuarantinedCommit>> ReadQuarantineAsync(string environment, CancellationToken ct) => Alive(() => inner.ReadQuarantineAsync(environment, ct));
    public Task<bool> UnquarantineAsync(string environment, string commit, CancellationToken ct) => Alive(() => inner.UnquarantineAsync(environment, commit, ct));
    public Task<LockAttempt> TryAcquireLockAsync(string environment, string owner, string reason, TimeSpan ttl, CancellationToken ct) =>
        Alive(() => inner.TryAcquireLockAsync(environment, owner, reason, ttl, ct));
    public Task<bool> RenewLockAsync(string environment, string owner, TimeSpan ttl, CancellationToken ct) => Alive(() => inner.RenewLockAsync(environment, owner, ttl, ct));
    public Task<bool> ReleaseLockAsync(string environment, string owner, bool force, CancellationToken ct) => Alive(() => inner.ReleaseLockAsync(environment, owner, force, ct));
    public Task<LockInfo?> ReadLockAsync(string environment, CancellationToken ct) => Alive(() => inner.ReadLockAsync(environment, ct));
    public Task SetFreezeAsync(string environment, FreezeInfo? freeze, CancellationToken ct) => Alive(() => inner.SetFreezeAsync(environment, freeze, ct));
    public Task<FreezeInfo?> ReadFreezeAsync(string environment, CancellationToken ct) => Alive(() => inner.ReadFreezeAsync(environment, ct));
    public ValueTask DisposeAsync() => inner.DisposeAsync();
}
