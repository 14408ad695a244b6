using System.Collections.Immutable;
using System.Runtime.InteropServices;
using Reconciler.Diff.Planning;

namespace Reconciler.State;

/// <summary>A run of a plan's entries as <see cref="SnapshotEntries"/> keeps them: <paramref name="Count"/> records in
/// bytes [<paramref name="Start"/>, <paramref name="End"/>) of the snapshot read, or one entry listed as an object
/// (<paramref name="Entry"/>), with the record it is the same as in [Start, End) when it has one (else Start == End).</summary>
internal readonly record struct EntrySegment(int Start, int End, int Count, ServiceChange? Entry);

/// <summary>One entry as <see cref="SnapshotEntries"/> keeps it: what its record says, and where it is (Start == End:
/// none), or the entry listed as an object.</summary>
internal readonly record struct KeptEntry(int Start, int End, PlanCodec.EntryRecord Record, ServiceChange? Listed);

/// <summary>
/// A plan's entries as records of the snapshot they were read from (<see cref="PlanCodec"/>), read only when asked
/// for: the plans of a snapshot read from a file (one run of records each), and the plans an incremental plan merges
/// from them (<see cref="UseCases.IncrementalPlan.Merge"/>), whose entries planned again are listed as objects between
/// runs of the records carried over. The snapshot's save writes the runs straight from the bytes read, the JSON
/// writer writes plain no-ops from their records, the views count them, and <see cref="Plan.Services"/> materialises
/// them all.
/// </summary>
/// <param name="carriedAreNoOps">True when every record in a run is a no-op (a merged plan's: the services with work
/// were planned again), so the entries with work are the listed ones; else they are found by reading the records.</param>
internal sealed class SnapshotEntries(EncodedPlans from, ImmutableArray<EntrySegment> segments, int count, bool carriedAreNoOps)
    : DeferredEntries
{
    private ImmutableArray<ServiceChange> _listed;

    public EncodedPlans From => from;

    public ImmutableArray<EntrySegment> Segments => segments;

    public override int Count => count;

    public override ImmutableArray<ServiceChange> Listed =>
        _listed.IsDefault ? _listed = carriedAreNoOps
            ? [.. segments.Select(s => s.Entry).OfType<ServiceChange>()]
            : [.. Entries().Where(e => (e.Listed?.Action ?? e.Record.Action) != ServiceAction.NoOp).Select(Materialise)]
        : _listed;

    /// <summary>How many entries are records as they were read (a run's, or one planned again to the same no-op).</summary>
    public int RecordsKept => segments.Sum(s => s.Entry is null ? s.Count : s.Start < s.End ? 1 : 0);

    /// <summary>Every entry in plan order, its record read (not decoded) when it is not listed.</summary>
    /// <exception cref="FormatException">A run's records are not what its counts say.</exception>
    public IEnumerable<KeptEntry> Entries()
    {
        foreach (var segment in segments)
        {
            if (segment.Entry is { } listed)
            {
                yield return new KeptEntry(segment.Start, segment.End, default, listed);
                continue;
            }
            var at = segment.Start;
            for (var i = 0; i < segment.Count; i++)
            {
                var start = at;
                var record = PlanCodec.Entry(from, ref at, materialise: false);
                if (at > segment.End) throw new FormatException("a record runs past its plan's");
                yield return new KeptEntry(start, at, record, null);
            }
            if (at != segment.End) throw new FormatException("a plan's records are not as many as it says");
        }
    }

    /// <summary>The entry as an object: listed, or decoded from its record.</summary>
    public ServiceChange Materialise(KeptEntry entry)
    {
        if (entry.Listed is { } listed) return listed;
        var at = entry.Start;
        return PlanCodec.Entry(from, ref at, materialise: true).Entry!;
    }

    protected override ImmutableArray<ServiceChange> Materialize()
    {
        var entries = new ServiceChange[count];
        var i = 0;
        foreach (var entry in Entries()) entries[i++] = Materialise(entry);
        return ImmutableCollectionsMarshal.AsImmutableArray(entries);
    }
}
