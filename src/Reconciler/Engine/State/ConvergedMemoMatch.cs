using System.Collections.Concurrent;
using Reconciler.Diff.Live;
using Reconciler.Diff.Planning;
using Reconciler.Schema.Model;

namespace Reconciler.State;

/// <summary>
/// One environment's plan with a <see cref="ConvergedMemo"/>, in three steps around the store read:
/// <list type="number">
/// <item><see cref="Start"/> digests the desired specs the memo has entries for, and every host group. The entries whose
/// spec and group digests still match are <see cref="Deferrable"/>: the store read leaves exactly those services
/// undecoded, and only when their stored bytes are the ones the entry lists. It decodes, and so checks, every other
/// service, so a corrupt stored entry is reported by the read, never from inside the planner.</item>
/// <item><see cref="KnownConverged"/>: the deferrable services whose stored bytes were unchanged, for
/// <see cref="PlanOptions.KnownConverged"/>. The planner never reads those, so it decodes no deferred service.</item>
/// <item><see cref="Record"/>: the memo for the next plan, from what this plan found converged.</item>
/// </list>
/// Per-service facts are kept in arrays in the desired state's order: a large repo has thousands of services.
/// </summary>
public sealed class ConvergedMemoMatch
{
    private const int ParallelThreshold = 512;   // below this, one thread digests faster than several start up
    private const int ChunkSize = 256;

    private readonly ConvergedMemo _memo;
    private readonly int _maxDegreeOfParallelism;
    private readonly IReadOnlyDictionary<string, UInt128> _groups;
    private readonly ServiceSpec[] _specs;                  // the desired services, in their dictionary's order
    private readonly bool _specsOrdinal;                    // ... which is ordinal name order
    private readonly Dictionary<string, int> _index;        // name -> position in _specs
    private readonly UInt128?[] _specDigests;               // computed where _digested
    private readonly bool[] _digested;
    private readonly List<ConvergedMemo.Entry> _deferrable = [];
    private (LiveState Live, UInt128?[] Stored)? _read;     // stored-bytes digests of the last live state seen

    private ConvergedMemoMatch(ConvergedMemo memo, DesiredState desired, int maxDegreeOfParallelism)
    {
        _memo = memo;
        _maxDegreeOfParallelism = maxDegreeOfParallelism;
        _groups = ConvergenceKeys.HostGroups(desired.EnvironmentSpec, memo.Digest);
        _specs = [.. desired.Services.Values];
        _specsOrdinal = ReferenceEquals(desired.Services.KeyComparer, StringComparer.Ordinal);
        _index = new Dictionary<string, int>(_specs.Length, StringComparer.Ordinal);
        for (var i = 0; i < _specs.Length; i++) _index[_specs[i].Name] = i;
        _specDigests = new UInt128?[_specs.Length];
        _digested = new bool[_specs.Length];

        var entries = new ConvergedMemo.Entry?[_specs.Length];
        for (var i = 0; i < _specs.Length; i++)
            if (memo.TryGet(_specs[i].Name, out var entry)) entries[i] = entry;
        DigestSpecs(i => entries[i] is not null);
        for (var i = 0; i < _specs.Length; i++)
            if (entries[i] is { } e && _specDigests[i] == e.Spec && _groups.TryGetValue(_specs[i].HostGroup, out var group) && group == e.Group)
                _deferrable.Add(e);
        Deferrable = new ConvergedMemo(memo.Seed, _deferrable);
    }

    /// <param name="maxDegreeOfParallelism">Workers for digesting specs (thousands of them in a large repo).</param>
    public static ConvergedMemoMatch Start(ConvergedMemo memo, DesiredState desired, int maxDegreeOfParallelism)
    {
        ArgumentNullException.ThrowIfNull(memo);
        ArgumentNullException.ThrowIfNull(desired);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxDegreeOfParallelism, 1);
        return new ConvergedMemoMatch(memo, desired, maxDegreeOfParallelism);
    }

    /// <summary>The entries whose spec and host group are as they were: what to pass to
    /// <see cref="IStateStore.ReadAsync(string, ConvergedMemo, CancellationToken)"/>.</summary>
    public ConvergedMemo Deferrable { get; }

    /// <summary>The services of <paramref name="live"/> (as read with <see cref="Deferrable"/>) that are converged
    /// because their stored bytes, spec and host group are all as they were: service name -> release.</summary>
    public IReadOnlyDictionary<string, string> KnownConverged(LiveState live)
    {
        ArgumentNullException.ThrowIfNull(live);
        var stored = StoredDigests(live);
        var known = new Dictionary<string, string>(_deferrable.Count, StringComparer.Ordinal);
        foreach (var entry in _deferrable)
            if (stored[_index[entry.Service]] == entry.Live) known[entry.Service] = entry.Release;
        return known;
    }

    /// <summary>The memo for the next plan: an entry for each service <paramref name="plan"/> found converged whose live
    /// entry was read from the store (and so has the digest of its stored bytes) and whose spec has a key.</summary>
    public ConvergedMemo Record(LiveState live, Plan plan)
    {
        ArgumentNullException.ThrowIfNull(live);
        ArgumentNullException.ThrowIfNull(plan);
        var stored = StoredDigests(live);
        var converged = new List<(int Index, ServiceChange Change)>();
        foreach (var change in plan.ConvergedServices())
            if (_index.TryGetValue(change.Service, out var i) && stored[i] is not null) converged.Add((i, change));
        var wanted = new bool[_specs.Length];
        foreach (var (i, _) in converged) wanted[i] = true;
        DigestSpecs(i => wanted[i]);
        var entries = new List<ConvergedMemo.Entry>(converged.Count);
        foreach (var (i, change) in converged)
            if (_specDigests[i] is { } spec && _groups.TryGetValue(change.HostGroup, out var group))
                entries.Add(new ConvergedMemo.Entry(change.Service, stored[i]!.Value, spec, group, change.ToRelease!));
        return new ConvergedMemo(_memo.Seed, entries);
    }

    /// <summary>The digest of each desired service's stored bytes in <paramref name="live"/> (null: not in the live
    /// state, or not read from a store), in <see cref="_specs"/> order. One merge walk when both sides are sorted ordinally.</summary>
    private UInt128?[] StoredDigests(LiveState live)
    {
        if (_read is { } read && ReferenceEquals(read.Live, live)) return read.Stored;
        var stored = new UInt128?[_specs.Length];
        if (_specsOrdinal && ReferenceEquals(live.Services.KeyComparer, StringComparer.Ordinal))
        {
            var i = 0;
            foreach (var (name, service) in live.Services)
            {
                while (i < _specs.Length && string.CompareOrdinal(_specs[i].Name, name) < 0) i++;
                if (i == _specs.Length) break;
                if (_specs[i].Name == name && service.TryGetStoredDigest(out var digest)) stored[i] = digest;
            }
        }
        else
        {
            for (var i = 0; i < _specs.Length; i++)
                if (live.Services.TryGetValue(_specs[i].Name, out var service) && service.TryGetStoredDigest(out var digest)) stored[i] = digest;
        }
        _read = (live, stored);
        return stored;
    }

    /// <summary>Digests the specs <paramref name="wanted"/> selects that are not digested yet.</summary>
    private void DigestSpecs(Func<int, bool> wanted)
    {
        var todo = new List<int>();
        for (var i = 0; i < _specs.Length; i++)
            if (!_digested[i] && wanted(i)) todo.Add(i);
        void DigestRange(int from, int to)
        {
            for (var t = from; t < to; t++)
            {
                var i = todo[t];
                _specDigests[i] = ConvergenceKeys.Spec(_specs[i], _memo.Digest);
                _digested[i] = true;
            }
        }
        if (todo.Count >= ParallelThreshold && _maxDegreeOfParallelism > 1)
            Parallel.ForEach(Partitioner.Create(0, todo.Count, ChunkSize), new ParallelOptions { MaxDegreeOfParallelism = _maxDegreeOfParallelism },
                r => DigestRange(r.Item1, r.Item2));
        else DigestRange(0, todo.Count);
    }
}
