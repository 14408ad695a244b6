using Reconciler.State;

namespace Reconciler.Execution;

/// <summary>
/// Group commit for journal entries. Entries are stored in the order they arrive, in groups: one write takes every entry
/// queued since the last one, in one call (<see cref="IStateStore.AppendJournalAsync(IReadOnlyList{JournalEntry}, CancellationToken)"/>,
/// one SQLite transaction). The writer runs on the pool, so the host steps that start together (a batch) queue their
/// entries before it takes them.
/// <list type="bullet">
/// <item><see cref="AppendAsync"/> returns only once its entry is stored (or throws what storing it threw): "journaled
/// Started before the work".</item>
/// <item><see cref="Enqueue"/> (write-behind) returns at once; the entry goes to the store with the next group, which an
/// awaited append or <see cref="FlushAsync"/> starts. Since groups keep arrival order, the stored journal is always a
/// prefix of the appended one: once an entry appended later is stored, this one is too. So a write-behind entry can be
/// lost only together with everything after it, as in a crash right before it was written; a step whose Finished is
/// lost is redone on resume, as a Started one always was.</item>
/// </list>
/// With one SQLite commit per entry the journal cost the executor ~350 us of CPU per host deployment at 10,000 hosts,
/// and still about half of it with groups of ~4 entries (docs/benchmarks.md, "Scale").
/// </summary>
internal sealed class JournalGroupCommit(IStateStore store)
{
    private const int YieldsBeforeGroup = 4;
    private readonly object _gate = new();
    // Stored is null for a write-behind entry; Entry is null for a flush (it only waits for what was queued before it).
    private List<(JournalEntry? Entry, TaskCompletionSource? Stored)> _queued = [];
    // The list of the group last written, emptied, to queue into next (a new list per group grew from empty each time).
    private List<(JournalEntry? Entry, TaskCompletionSource? Stored)> _spare = [];
    private bool _writing;

    /// <summary><paramref name="ct"/> is checked before the entry is queued; once queued it is stored (a group mixes
    /// appends of several steps, so one of them cannot take its entry back).</summary>
    public Task AppendAsync(JournalEntry entry, CancellationToken ct)
    {
        ct.ThrowIfCancellationRequested();
        return QueueAwaited(entry);
    }

    /// <summary>Queues the entry for the next group and returns at once (see the class remarks for why that is safe for
    /// a step's Finished entry).</summary>
    public void Enqueue(JournalEntry entry)
    {
        lock (_gate) _queued.Add((entry, null));
    }

    /// <summary>Returns once every entry queued before it is stored. Throws when one of them could not be stored.</summary>
    public Task FlushAsync() => QueueAwaited(null);

    private Task QueueAwaited(JournalEntry? entry)
    {
        var stored = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        bool start;
        lock (_gate)
        {
            if (entry is null && _queued.Count == 0 && !_writing) return Task.CompletedTask;   // a flush with nothing to wait for
            _queued.Add((entry, stored));
            start = !_writing;
            _writing = true;
        }
        // On the pool: the appender's caller goes on starting steps (a batch), whose entries join this group.
        if (start) _ = Task.Run(WriteGroupsAsync, CancellationToken.None);
        return stored.Task;
    }

    private async Task WriteGroupsAsync()
    {
        while (true)
        {
            // While the pool has work queued (host steps about to append: a batch's steps, or the continuations the last
            // group released), let it run first, a few times at most, so that their entries join this group. A group's
            // transaction costs more than its rows: this made groups larger and the executor ~10 % cheaper per host
            // deployment at 10,000 hosts (docs/benchmarks.md, "Executor per host deployment, Native AOT"). No timer: an
            // idle pool writes at once.
            for (var i = 0; i < YieldsBeforeGroup && ThreadPool.PendingWorkItemCount > 0; i++) await Task.Yield();
            List<(JournalEntry? Entry, TaskCompletionSource? Stored)> group;
            lock (_gate)
            {
                if (_queued.Count == 0 || !_queued.Exists(q => q.Stored is not null))
                {
                    // Only write-behind entries left (or none): they wait for the next awaited append or flush.
                    _writing = false;
                    return;
                }
                (group, _queued, _spare) = (_queued, _spare, []);
            }
            var entries = group.Where(g => g.Entry is not null).Select(g => g.Entry!).ToList();
            try
            {
                if (entries.Count == 1) await store.AppendJournalAsync(entries[0], CancellationToken.None);
                else if (entries.Count > 1) await store.AppendJournalAsync(entries, CancellationToken.None);
                foreach (var (_, stored) in group) stored?.TrySetResult();
            }
            catch (Exception e)
            {
                Fail(group, e);
            }
            group.Clear();
            lock (_gate) _spare = group;
        }
    }

    /// <summary>The awaited appends of the failed group throw. Its write-behind entries go back to the head of the queue,
    /// to be stored before anything that came after them (a store that partly wrote the group may then hold one twice:
    /// the journal reads the last status of a step, so a repeated entry changes nothing). The next awaited append or flush
    /// stores them, or throws.</summary>
    private void Fail(List<(JournalEntry? Entry, TaskCompletionSource? Stored)> group, Exception e)
    {
        lock (_gate)
        {
            _queued.InsertRange(0, group.Where(g => g.Stored is null));
        }
        foreach (var (_, stored) in group) stored?.TrySetException(e);
    }
}
