using System.Collections.Concurrent;
using Reconciler.State;

namespace Reconciler.Execution;

/// <summary>
/// One apply's journal: the entries of its apply id as typed <see cref="StepKey"/>s, and the store they are appended
/// to. A step is journaled Started before its work and Finished after; a Finished step is never redone, a Started one
/// is (every driver operation is idempotent). Appends may come from parallel host steps.
/// </summary>
internal sealed class ApplyJournal
{
    private readonly IStateStore _store;
    private readonly TimeProvider _time;
    private readonly string _environment;
    private readonly string _applyId;
    private readonly string _commit;
    private readonly ConcurrentDictionary<StepKey, JournalStatus> _status = new();
    private readonly List<(StepKey Key, JournalEntry Entry)> _entries = [];

    public ApplyJournal(IStateStore store, TimeProvider time, string environment, string applyId, string commit, IEnumerable<JournalEntry> stored)
    {
        (_store, _time, _environment, _applyId, _commit) = (store, time, environment, applyId, commit);
        foreach (var entry in stored.Where(e => e.ApplyId == applyId))
        {
            var key = StepKey.Parse(entry.Step, environment, applyId);
            _entries.Add((key, entry));
            _status[key] = entry.Status;
        }
    }

    public bool IsFinished(StepKey key) => _status.TryGetValue(key, out var s) && s == JournalStatus.Finished;

    public bool Contains(StepKey key) => _status.ContainsKey(key);

    /// <summary>The detail of the first entry of <paramref name="key"/> (the rollback's reason, say).</summary>
    public string? FirstDetailOf(StepKey key)
    {
        lock (_entries) return _entries.FirstOrDefault(e => e.Key == key).Entry?.Detail;
    }

    /// <summary>Every host switch (activate, remove) that was started, once each, in the order they were first journaled.</summary>
    public IReadOnlyList<StepKey> HostSwitches()
    {
        lock (_entries) return [.. _entries.Select(e => e.Key).Where(k => k.SwitchesHost).Distinct()];
    }

    /// <summary>Keys journaled with <paramref name="status"/> that satisfy <paramref name="match"/>.</summary>
    public HashSet<StepKey> With(JournalStatus status, Func<StepKey, bool> match)
    {
        lock (_entries) return [.. _entries.Where(e => e.Entry.Status == status && match(e.Key)).Select(e => e.Key)];
    }

    /// <summary>True when any host step (stage, activate, remove) of <paramref name="service"/> was started.</summary>
    public bool AnyHostStepOf(string service)
    {
        lock (_entries) return _entries.Any(e => e.Key.IsHostStep && e.Key.Service == service);
    }

    public async Task AppendAsync(StepKey key, JournalStatus status, string? detail, CancellationToken ct)
    {
        var entry = new JournalEntry(_environment, _applyId, _commit, key.ToString(), status, _time.GetUtcNow(), detail);
        await _store.AppendJournalAsync(entry, ct);
        lock (_entries) _entries.Add((key, entry));
        _status[key] = status;
    }
}
