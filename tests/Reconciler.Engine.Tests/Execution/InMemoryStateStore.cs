using System.Collections.Immutable;
using Reconciler.Diff.Live;
using Reconciler.State;

namespace Reconciler.Engine.Tests.Execution;

/// <summary>
/// An in-memory IStateStore for executor tests: honours compare-and-set, the journal, quarantine, history,
/// freezes and a TTL lock on the injected clock. <see cref="CrashAfterJournalEntries"/> simulates kill -9: once
/// that many journal entries were written, every call throws until <see cref="Revive"/>, so nothing after the
/// crash point reaches the store (not even the lock release).
/// </summary>
public sealed class InMemoryStateStore(TimeProvider time) : IStateStore
{
    private readonly object _gate = new();
    private readonly Dictionary<string, LiveState> _live = new();
    private readonly List<JournalEntry> _journal = [];
    private readonly HashSet<(string Env, string ApplyId)> _closed = [];
    private readonly List<HistoryEntry> _history = [];
    private readonly List<(string Env, QuarantinedCommit Commit)> _quarantine = [];
    private readonly Dictionary<string, LockInfo> _locks = new();
    private readonly Dictionary<string, FreezeInfo> _freezes = new();
    private bool _crashed;

    public int? CrashAfterJournalEntries { get; set; }
    public int JournalCount { get { lock (_gate) return _journal.Count; } }
    public IReadOnlyList<JournalEntry> AllJournal { get { lock (_gate) return [.. _journal]; } }
    public int Writes { get; private set; }
    public string Describe => "memory:";

    public void Revive() { lock (_gate) { _crashed = false; CrashAfterJournalEntries = null; } }

    public void Seed(LiveState state) { lock (_gate) _live[state.Environment] = state; }

    private void Alive()
    {
        if (_crashed) throw new SimulatedCrashException();
    }

    public Task<LiveState> ReadAsync(string environment, CancellationToken ct)
    {
        lock (_gate)
        {
            Alive();
            return Task.FromResult(_live.GetValueOrDefault(environment) ?? LiveState.Empty(environment));
        }
    }

    public Task<long> WriteAsync(string environment, long expectedVersion, StateChange change, CancellationToken ct)
    {
        lock (_gate)
        {
            Alive();
            var current = _live.GetValueOrDefault(environment) ?? LiveState.Empty(environment);
            if (current.Version != expectedVersion) throw new StateConflictException(environment, expectedVersion, current.Version);
            var services = current.Services.SetItems(change.UpsertServices.Select(s => KeyValuePair.Create(s.Name, s))).RemoveRange(change.RemoveServices);
            var toggles = current.Toggles.SetItems(change.UpsertToggles.Select(t => KeyValuePair.Create(t.Name, t))).RemoveRange(change.RemoveToggles);
            _live[environment] = current with
            {
                Version = current.Version + 1, Services = services, Toggles = toggles,
                LastGoodCommit = change.LastGoodCommit ?? current.LastGoodCommit,
            };
            Writes++;
            return Task.FromResult(current.Version + 1);
        }
    }

    public Task AppendJournalAsync(JournalEntry entry, CancellationToken ct)
    {
        lock (_gate)
        {
            Alive();
            _journal.Add(entry);
            if (CrashAfterJournalEntries is { } n && _journal.Count >= n)
            {
                _crashed = true;
                throw new SimulatedCrashException();
            }
        }
        return Task.CompletedTask;
    }

    public Task<IReadOnlyList<JournalEntry>> ReadOpenJournalAsync(string environment, CancellationToken ct)
    {
        lock (_gate)
        {
            Alive();
            return Task.FromResult<IReadOnlyList<JournalEntry>>(
                [.. _journal.Where(e => e.Environment == environment && !_closed.Contains((environment, e.ApplyId)))]);
        }
    }

    public Task CloseJournalAsync(string environment, string applyId, CancellationToken ct)
    {
        lock (_gate) { Alive(); _closed.Add((environment, applyId)); }
        return Task.CompletedTask;
    }

    public Task AppendHistoryAsync(HistoryEntry entry, CancellationToken ct)
    {
        lock (_gate) { Alive(); _history.Add(entry); }
        return Task.CompletedTask;
    }

    public Task<IReadOnlyList<HistoryEntry>> ReadHistoryAsync(string environment, int limit, CancellationToken ct)
    {
        lock (_gate)
            return Task.FromResult<IReadOnlyList<HistoryEntry>>([.. _history.Where(h => h.Environment == environment).Reverse().Take(limit)]);
    }

    public Task QuarantineAsync(string environment, QuarantinedCommit commit, CancellationToken ct)
    {
        lock (_gate) { Alive(); _quarantine.Add((environment, commit)); }
        return Task.CompletedTask;
    }

    public Task<IReadOnlyList<QuarantinedCommit>> ReadQuarantineAsync(string environment, CancellationToken ct)
    {
        lock (_gate)
        {
            Alive();
            return Task.FromResult<IReadOnlyList<QuarantinedCommit>>([.. _quarantine.Where(q => q.Env == environment).Select(q => q.Commit)]);
        }
    }

    public Task<LockAttempt> TryAcquireLockAsync(string environment, string owner, string reason, TimeSpan ttl, CancellationToken ct)
    {
        lock (_gate)
        {
            Alive();
            var now = time.GetUtcNow();
            if (_locks.TryGetValue(environment, out var held) && held.ExpiresAt > now)
                return Task.FromResult(new LockAttempt(false, held));
            var info = new LockInfo(environment, owner, reason, now, now + ttl);
            _locks[environment] = info;
            return Task.FromResult(new LockAttempt(true, info));
        }
    }

    public Task<bool> RenewLockAsync(string environment, string owner, TimeSpan ttl, CancellationToken ct)
    {
        lock (_gate)
        {
            Alive();
            var now = time.GetUtcNow();
            if (!_locks.TryGetValue(environment, out var held) || held.Owner != owner || held.ExpiresAt <= now) return Task.FromResult(false);
            _locks[environment] = held with { ExpiresAt = now + ttl };
            return Task.FromResult(true);
        }
    }

    public Task<bool> ReleaseLockAsync(string environment, string owner, bool force, CancellationToken ct)
    {
        lock (_gate)
        {
            Alive();
            if (!_locks.TryGetValue(environment, out var held) || (!force && held.Owner != owner)) return Task.FromResult(false);
            _locks.Remove(environment);
            return Task.FromResult(true);
        }
    }

    public Task<LockInfo?> ReadLockAsync(string environment, CancellationToken ct)
    {
        lock (_gate) return Task.FromResult(_locks.GetValueOrDefault(environment));
    }

    public Task SetFreezeAsync(string environment, FreezeInfo? freeze, CancellationToken ct)
    {
        lock (_gate)
        {
            if (freeze is null) _freezes.Remove(environment);
            else _freezes[environment] = freeze;
        }
        return Task.CompletedTask;
    }

    public Task<FreezeInfo?> ReadFreezeAsync(string environment, CancellationToken ct)
    {
        lock (_gate) { Alive(); return Task.FromResult(_freezes.GetValueOrDefault(environment)); }
    }

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}

public sealed class SimulatedCrashException() : Exception("simulated kill -9");
