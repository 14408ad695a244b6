using System.Runtime.InteropServices;
using Reconciler.State;

namespace Reconciler.Execution;

/// <summary>
/// One apply's journal: the entries of its apply id, the last status of every <see cref="StepKey"/>, and the store they
/// are appended to. A step is journaled Started before its work and Finished after; a Finished step is never redone, a
/// Started one is (every driver operation is idempotent). Appends may come from parallel host steps.
/// </summary>
internal sealed class ApplyJournal
{
    private readonly JournalGroupCommit _commits;
    private readonly TimeProvider _time;
    private readonly string _environment;
    private readonly string _applyId;
    private readonly string _commit;
    // Both under one lock (_log). The last status of every key: an open step keeps its stored text, so that Finished
    // reuses the text of Started (thousands of host steps); a closed one drops it. A plain dictionary updates a key's
    // status in place, where a concurrent one allocated a new node at every status change.
    private readonly Dictionary<StepKey, (JournalStatus Status, string? Text)> _steps;
    // Every entry in journal order, as its key, status and detail, not as the stored JournalEntry: an apply of 10,000
    // hosts appends 160,000 entries, and keeping each one's object and text alive until the apply ends made the GC
    // copy them from generation to generation (docs/benchmarks.md, "Scale").
    private readonly List<(StepKey Key, JournalStatus Status, string? Detail)> _log;

    /// <param name="expectedSteps">About how many keys the apply journals (sizes the tables once).</param>
    public ApplyJournal(IStateStore store, TimeProvider time, string environment, string applyId, string commit, IEnumerable<JournalEntry> stored,
        int expectedSteps = 0)
    {
        (_time, _environment, _applyId, _commit) = (time, environment, applyId, commit);
        _commits = new JournalGroupCommit(store);
        _steps = new Dictionary<StepKey, (JournalStatus, string?)>(expectedSteps);
        _log = new List<(StepKey, JournalStatus, string?)>(Math.Max(4, expectedSteps * 2));
        foreach (var entry in stored.Where(e => e.ApplyId == applyId))
        {
            var key = KeyOf(entry);
            _log.Add((key, entry.Status, entry.Detail));
            _steps[key] = (entry.Status, Open(entry.Status) ? entry.Step : null);
        }
    }

    public bool IsFinished(StepKey key)
    {
        lock (_log) return _steps.TryGetValue(key, out var s) && s.Status == JournalStatus.Finished;
    }

    public bool Contains(StepKey key)
    {
        lock (_log) return _steps.ContainsKey(key);
    }

    /// <summary>The detail of the first entry of <paramref name="key"/> (the rollback's reason, say).</summary>
    public string? FirstDetailOf(StepKey key)
    {
        lock (_log) return _steps.ContainsKey(key) ? _log.First(e => e.Key == key).Detail : null;
    }

    /// <summary>Every host switch (activate, remove) that was started, once each, in the order they were first journaled.</summary>
    public IReadOnlyList<StepKey> HostSwitches() => [.. Keys(_ => true).Where(k => k.SwitchesHost).Distinct()];

    /// <summary>Keys journaled with <paramref name="status"/> that satisfy <paramref name="match"/>.</summary>
    public HashSet<StepKey> With(JournalStatus status, Func<StepKey, bool> match) => [.. Keys(e => e.Status == status).Where(match)];

    /// <summary>Every (service, host) with a host step (stage, activate, remove) that was started, once each.</summary>
    public IReadOnlyList<(string Service, string Host)> HostsWithHostSteps() =>
        [.. Keys(_ => true).Where(k => k.IsHostStep).Select(k => (k.Service!, k.Host!)).Distinct()];

    /// <summary>The services with a host step (stage, activate, remove) that was started.</summary>
    public HashSet<string> ServicesWithHostSteps() => [.. Keys(_ => true).Where(k => k.IsHostStep).Select(k => k.Service!)];

    /// <summary>Stores the entry; returns once it is stored. Entries of parallel host steps that arrive while a write is
    /// under way go to the store together in the next one (<see cref="JournalGroupCommit"/>).</summary>
    public async Task AppendAsync(StepKey key, JournalStatus status, string? detail, CancellationToken ct)
    {
        var text = TextOf(key);
        var entry = new JournalEntry(_environment, _applyId, _commit, text, status, _time.GetUtcNow(), detail);
        await _commits.AppendAsync(entry, ct);
        lock (_log)
        {
            _log.Add((key, status, detail));
            _steps[key] = (status, Open(status) ? text : null);
        }
    }

    /// <summary>Records the entry at once and stores it with the next group (<see cref="JournalGroupCommit.Enqueue"/>):
    /// for a host step's Finished, whose loss in a crash only makes a resume redo an idempotent step. Everything that
    /// must not start before it is stored (the next step's Started, a batch's state write) is preceded by an awaited
    /// append, which stores it first; <see cref="FlushAsync"/> ends each unit of work of the step function.</summary>
    public void AppendBehind(StepKey key, JournalStatus status, string? detail)
    {
        var at = _time.GetUtcNow();
        // In memory first: the step counts as done in this run whether or not the store has the entry yet. One lookup of
        // the key for its text and its new status (each hashes the service and host names).
        lock (_log)
        {
            ref var step = ref CollectionsMarshal.GetValueRefOrAddDefault(_steps, key, out _);
            var text = step.Text ?? key.ToString();
            step = (status, Open(status) ? text : null);
            _log.Add((key, status, detail));
            _commits.Enqueue(new JournalEntry(_environment, _applyId, _commit, text, status, at, detail));
        }
    }

    /// <summary>Returns once every entry appended so far is stored; throws what storing one of them threw.</summary>
    public Task FlushAsync() => _commits.FlushAsync();

    /// <summary>The keys of the entries that satisfy <paramref name="match"/>, in journal order.</summary>
    private List<StepKey> Keys(Func<(StepKey Key, JournalStatus Status, string? Detail), bool> match)
    {
        lock (_log) return [.. _log.Where(match).Select(e => e.Key)];
    }

    private string TextOf(StepKey key)
    {
        lock (_log) if (_steps.TryGetValue(key, out var known) && known.Text is { } text) return text;
        return key.ToString();
    }

    /// <summary>Started: a Finished or Failed entry of the same key follows, and reuses the text.</summary>
    private static bool Open(JournalStatus status) => status == JournalStatus.Started;

    private StepKey KeyOf(JournalEntry entry) => StepKey.Parse(entry.Step, _environment, _applyId);
}
