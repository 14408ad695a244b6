using Reconciler.Diff.Planning;
using Reconciler.UseCases;

namespace Reconciler.State;

/// <summary>
/// The bytes a <see cref="PlanSnapshot"/> was read from, for each service change it holds: its record
/// (<see cref="PlanCodec"/>) and its entry of the plan JSON's <c>services</c> as <see cref="PlanJsonWriter"/> renders it.
/// Keyed by the very object decoded from those bytes (reference equality, not value equality), so an entry applies only
/// to the change it was read with: a service planned again is a new object and is encoded and rendered afresh. An
/// incremental plan keeps the unchanged services' objects, so rendering it copies their JSON and saving the next
/// snapshot copies their bytes (docs/cli/plan.md, "Incremental plans").
/// </summary>
public sealed class SnapshotEntries : IRenderedServices
{
    public static SnapshotEntries Empty { get; } = new();

    /// <summary>One index per plan of the snapshot: the plans are decoded in parallel, each into its own. The values
    /// are objects, not tuples, so that the dictionary can run the runtime's shared precompiled code (a trace showed
    /// building this index costing as much as decoding the records).</summary>
    private readonly Dictionary<ServiceChange, Entry>[] _plans;

    /// <summary>The size of the file the entries were read from (a hint for the size of the next one).</summary>
    public int FileLength { get; }

    public SnapshotEntries() : this(0, 0)
    {
    }

    internal SnapshotEntries(int fileLength, int plans)
    {
        FileLength = fileLength;
        _plans = [.. Enumerable.Range(0, plans).Select(_ => new Dictionary<ServiceChange, Entry>(SameObject.Instance))];
    }

    /// <summary>Room for a plan's services, so that its index is not grown step by step.</summary>
    internal void Expect(int plan, int services) => _plans[plan].EnsureCapacity(services);

    /// <summary>Not thread-safe for one plan; different plans may be filled at the same time.</summary>
    internal void Add(int plan, ServiceChange change, ReadOnlyMemory<byte> record, ReadOnlyMemory<byte> json) => _plans[plan].Add(change, new Entry(record, json));

    internal bool TryGet(ServiceChange change, out ReadOnlyMemory<byte> record, out ReadOnlyMemory<byte> json)
    {
        foreach (var entries in _plans)
            if (entries.TryGetValue(change, out var entry))
            {
                (record, json) = (entry.Record, entry.Json);
                return true;
            }
        (record, json) = (default, default);
        return false;
    }

    /// <summary>An entry kept without its JSON (the snapshot of a plan not rendered as JSON) has none to give.</summary>
    public bool TryGetJson(ServiceChange service, out ReadOnlyMemory<byte> json) => TryGet(service, out _, out json) && !json.IsEmpty;

    private sealed record Entry(ReadOnlyMemory<byte> Record, ReadOnlyMemory<byte> Json);

    /// <summary>The same object, hashed by the service's name: the object's identity hash would be made and stored for
    /// each of 60,000 objects on reading a large snapshot (a trace showed it as the larger part of indexing them).</summary>
    private sealed class SameObject : IEqualityComparer<ServiceChange>
    {
        public static readonly SameObject Instance = new();

        public bool Equals(ServiceChange? x, ServiceChange? y) => ReferenceEquals(x, y);

        public int GetHashCode(ServiceChange obj) => obj.Service.GetHashCode(StringComparison.Ordinal);
    }
}
