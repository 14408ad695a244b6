using System.Text.Json;
using Reconciler.Diff.Live;
using Reconciler.State;

namespace Reconciler.Engine.Tests.Execution;

/// <summary>
/// The in-memory IStateStore of the executor and daemon tests (and the executor benchmark). It passes the same
/// contract suite as SQLite and Consul (State/InMemoryStateStoreContractTests): compare-and-set, the journal, history
/// and quarantine upserted by key, freezes, name checks, and a re-entrant TTL lock on the injected clock. Writes keep
/// objects, not bytes, so that a benchmark measures the executor rather than serialization.
/// <para><see cref="CrashAfterJournalEntries"/> simulates kill -9: once that many journal entries were written, every
/// call throws until <see cref="Revive"/>, so nothing after the crash point reaches the store (not even the lock
/// release).</para>
/// </summary>
public sealed class InMemoryStateStore(TimeProvider time) : IStateStore
{
    private readonly Lock _gate = new();
    private readonly Dictionary<string, LiveState> _live = new(StringComparer.Ordinal);
    // Closed entries stay (as in SQLite), only no longer open; an entry appended after the close is open.
    private readonly List<(JournalEntry Entry, bool Closed)> _journal = [];
    private readonly Dictionary<(string Env, string Id), HistoryEntry> _history = [];
    private readonly Dictionary<(string Env, string Commit), QuarantinedCommit> _quarantine = [];
    private readonly Dictionary<string, LockInfo> _locks = new(StringComparer.Ordinal);
    private readonly Dictionary<string, FreezeInfo> _freezes = new(StringComparer.Ordinal);
    private bool _crashed;
    private int _writes;

    public int? CrashAfterJournalEntries { get; set; }
    /// <summary>Every journal entry ever appended, closed ones included.</summary>
    public int JournalCount { get { lock (_gate) return _journal.Count; } }
    public IReadOnlyList<JournalEntry> AllJournal { get { lock (_gate) return [.. _journal.Select(e => e.Entry)]; } }
    /// <summary>Successful live-state writes.</summary>
    public int Writes => Volatile.Read(ref _writes);
    public string Describe => "memory:";

    public void Revive() { lock (_gate) { _crashed = false; CrashAfterJournalEntries = null; } }

    /// <summary>Test setup: puts an environment at <paramref name="state"/> (any version) as if it had been written.</summary>
    public void Seed(LiveState state)
    {
        StateNames.Check("environment", state.Environment);
        StateNames.CheckChange(new StateChange([.. state.Services.Values], [], [.. state.Toggles.Values], []));
        var services = LiveState.Empty(state.Environment).Services.SetItems(Stored(state.Services.Values));
        lock (_gate) _live[state.Environment] = state with { Services = services };
    }

    private void Alive()
    {
        if (_crashed) throw new SimulatedCrashException();
    }

    /// <summary>Runs <paramref name="op"/> under the store's lock after the checks every real store makes; a failure is a
    /// faulted task, as from the real (async) stores.</summary>
    private Task<T> Run<T>(string environment, Func<T> op)
    {
        try
        {
            StateNames.Check("environment", environment);
            lock (_gate)
            {
                Alive();
                return Task.FromResult(op());
            }
        }
        catch (Exception e)
        {
            return Task.FromException<T>(e);
        }
    }

    private Task Run(string environment, Action op)
    {
        try
        {
            StateNames.Check("environment", environment);
            lock (_gate)
            {
                Alive();
                op();
            }
            return Task.CompletedTask;
        }
        catch (Exception e)
        {
            return Task.FromException(e);
        }
    }

    // ---- live state -------------------------------------------------------------------------------------

    public Task<LiveState> ReadAsync(string environment, CancellationToken ct) =>
        Run(environment, () => _live.GetValueOrDefault(environment) ?? LiveState.Empty(environment));

    /// <summary>As a real store reads with a memo: every service marked with the memo's digest of its stored (compact JSON)
    /// bytes, and one the memo may show converged handed over undecoded.</summary>
    public async Task<LiveState> ReadAsync(string environment, ConvergedMemo? memo, CancellationToken ct)
    {
        var live = await ReadAsync(environment, ct);
        if (memo is null) return live;
        return live with
        {
            // A new dictionary, not SetItems: that keeps a value equal to the new one, and a marked copy equals the service.
            Services = live.Services.Clear().AddRange(live.Services.Values.Select(s =>
            {
                var digest = memo.Digest(JsonSerializer.SerializeToUtf8Bytes(s, ReconcilerJson.Compact));
                return KeyValuePair.Create(s.Name, memo.MayMatch(s.Name, digest) ? LiveService.Deferred(s.Name, digest, () => s) : s.FromStoredBytes(digest));
            })),
        };
    }

    public Task<long> WriteAsync(string environment, long expectedVersion, StateChange change, CancellationToken ct) =>
        Run(environment, () =>
        {
            StateNames.CheckChange(change);
            var current = _live.GetValueOrDefault(environment) ?? LiveState.Empty(environment);
            if (current.Version != expectedVersion) throw new StateConflictException($"{environment} ({Describe})", expectedVersion, current.Version);
            var services = current.Services.RemoveRange(change.RemoveServices).SetItems(Stored(change.UpsertServices));
            var toggles = current.Toggles.RemoveRange(change.RemoveToggles).SetItems(change.UpsertToggles.Select(t => KeyValuePair.Create(t.Name, t)));
            _live[environment] = current with
            {
                Version = current.Version + 1, Services = services, Toggles = toggles,
                LastGoodCommit = change.LastGoodCommit ?? current.LastGoodCommit,
            };
            Interlocked.Increment(ref _writes);
            return current.Version + 1;
        });

    /// <summary>What a store keeps is the service, not how it was read: no memo mark, nothing left undecoded, hosts keyed
    /// ordinally (a 'with' copy drops the mark and decodes).</summary>
    private static IEnumerable<KeyValuePair<string, LiveService>> Stored(IEnumerable<LiveService> services) =>
        services.Select(s => KeyValuePair.Create(s.Name, s.TryGetStoredDigest(out _) || !ReferenceEquals(s.Hosts.KeyComparer, StringComparer.Ordinal)
            ? s with { Hosts = s.Hosts.WithComparers(StringComparer.Ordinal) }
            : s));

    // ---- journal ----------------------------------------------------------------------------------------

    // Four per host deployment, the executor's most frequent call: no closure, so the benchmark measures the executor.
    public Task AppendJournalAsync(JournalEntry entry, CancellationToken ct)
    {
        try
        {
            StateNames.Check("environment", entry.Environment);
            StateNames.Check("apply id", entry.ApplyId);
            lock (_gate)
            {
                Alive();
                _journal.Add((entry, false));
                if (CrashAfterJournalEntries is { } n && _journal.Count >= n)
                {
                    _crashed = true;
                    throw new SimulatedCrashException();
                }
            }
            return Task.CompletedTask;
        }
        catch (Exception e)
        {
            return Task.FromException(e);
        }
    }

    public Task<IReadOnlyList<JournalEntry>> ReadOpenJournalAsync(string environment, CancellationToken ct) =>
        Run<IReadOnlyList<JournalEntry>>(environment, () =>
            [.. _journal.Where(e => !e.Closed && e.Entry.Environment == environment).Select(e => e.Entry)]);

    public Task CloseJournalAsync(string environment, string applyId, CancellationToken ct) =>
        Run(environment, () =>
        {
            StateNames.Check("apply id", applyId);
            for (var i = 0; i < _journal.Count; i++)
                if (_journal[i].Entry.Environment == environment && _journal[i].Entry.ApplyId == applyId) _journal[i] = (_journal[i].Entry, true);
        });

    // ---- history and quarantine -------------------------------------------------------------------------

    // Upsert by id: an apply records its entry when it starts and again, complete, when it ends.
    public Task AppendHistoryAsync(HistoryEntry entry, CancellationToken ct) => Run(entry.Environment, () =>
    {
        StateNames.Check("history id", entry.Id);
        _history[(entry.Environment, entry.Id)] = entry;
    });

    public Task<IReadOnlyList<HistoryEntry>> ReadHistoryAsync(string environment, int limit, CancellationToken ct) =>
        Run<IReadOnlyList<HistoryEntry>>(environment, () =>
            [.. _history.Values.Where(h => h.Environment == environment)
                .OrderByDescending(h => h.Started).ThenByDescending(h => h.Id, StringComparer.Ordinal).Take(Math.Max(0, limit))]);

    public Task QuarantineAsync(string environment, QuarantinedCommit commit, CancellationToken ct) => Run(environment, () =>
    {
        StateNames.Check("commit", commit.Commit);
        _quarantine[(environment, commit.Commit)] = commit;
    });

    public Task<IReadOnlyList<QuarantinedCommit>> ReadQuarantineAsync(string environment, CancellationToken ct) =>
        Run<IReadOnlyList<QuarantinedCommit>>(environment, () =>
            [.. _quarantine.Where(q => q.Key.Env == environment).Select(q => q.Value).OrderBy(q => q.At).ThenBy(q => q.Commit, StringComparer.Ordinal)]);

    public Task<bool> UnquarantineAsync(string environment, string commit, CancellationToken ct) =>
        Run(environment, () => _quarantine.Remove((environment, commit)));

    // ---- lock and freeze --------------------------------------------------------------------------------

    public Task<LockAttempt> TryAcquireLockAsync(string environment, string owner, string reason, TimeSpan ttl, CancellationToken ct) =>
        Run(environment, () =>
        {
            if (ttl <= TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(ttl), ttl, "a lock TTL must be positive");
            var now = time.GetUtcNow();
            var held = HeldLock(environment, now);
            if (held is not null && held.Owner != owner) return new LockAttempt(false, held);
            // Free, expired, or ours already (re-acquiring refreshes the TTL and reason, keeps the acquisition time).
            var info = new LockInfo(environment, owner, reason, held?.AcquiredAt ?? now, now + ttl);
            _locks[environment] = info;
            return new LockAttempt(true, info);
        });

    public Task<bool> RenewLockAsync(string environment, string owner, TimeSpan ttl, CancellationToken ct) => Run(environment, () =>
    {
        var now = time.GetUtcNow();
        if (HeldLock(environment, now) is not { } held || held.Owner != owner) return false;
        _locks[environment] = held with { ExpiresAt = now + ttl };
        return true;
    });

    public Task<bool> ReleaseLockAsync(string environment, string owner, bool force, CancellationToken ct) => Run(environment, () =>
        _locks.TryGetValue(environment, out var held) && (force || held.Owner == owner) && _locks.Remove(environment));

    public Task<LockInfo?> ReadLockAsync(string environment, CancellationToken ct) => Run(environment, () => HeldLock(environment, time.GetUtcNow()));

    /// <summary>The lock unless its TTL ran out: an expired lock is nobody's.</summary>
    private LockInfo? HeldLock(string environment, DateTimeOffset now) =>
        _locks.TryGetValue(environment, out var held) && held.ExpiresAt > now ? held : null;

    public Task SetFreezeAsync(string environment, FreezeInfo? freeze, CancellationToken ct) => Run(environment, () =>
    {
        if (freeze is null) _freezes.Remove(environment);
        else _freezes[environment] = freeze;
    });

    public Task<FreezeInfo?> ReadFreezeAsync(string environment, CancellationToken ct) => Run(environment, () => _freezes.GetValueOrDefault(environment));

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}

public sealed class SimulatedCrashException() : Exception("simulated kill -9");
