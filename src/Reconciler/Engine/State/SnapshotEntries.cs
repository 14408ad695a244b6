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

    private readonly Dictionary<ServiceChange, (ReadOnlyMemory<byte> Record, ReadOnlyMemory<byte> Json)> _entries =
        new(ReferenceEqualityComparer.Instance);

    public int Count => _entries.Count;

    internal void Add(ServiceChange change, ReadOnlyMemory<byte> record, ReadOnlyMemory<byte> json) => _entries.Add(change, (record, json));

    internal bool TryGet(ServiceChange change, out ReadOnlyMemory<byte> record, out ReadOnlyMemory<byte> json)
    {
        var found = _entries.TryGetValue(change, out var entry);
        (record, json) = entry;
        return found;
    }

    public bool TryGetJson(ServiceChange service, out ReadOnlyMemory<byte> json) => TryGet(service, out _, out json);
}
