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
        _listed.IsDefault ? _listed = carriedAreNoOps ? [.. segments.Select(s => s.Entry).OfType<ServiceChange>()] : WithWork() : _listed;

    private ImmutableArray<ServiceChange> WithWork()
    {
        var withWork = ImmutableArray.CreateBuilder<ServiceChange>();
        foreach (var entry in Entries())
            if ((entry.Listed?.Action ?? entry.Record.Action) != ServiceAction.NoOp) withWork.Add(Materialise(entry));
        return withWork.DrainToImmutable();
    }

    /// <summary>How many entries are records as they were read (a run's, or one planned again to the same no-op).</summary>
    public int RecordsKept => segments.Sum(s => s.Entry is null ? s.Count : s.Start < s.End ? 1 : 0);

    /// <summary>Every entry in plan order, its record read (not decoded) when it is not listed. A struct enumerator:
    /// the merge and the JSON writer step through 60,000 entries at 20,000 services, and an iterator's interface calls
    /// and copies of each entry were a tenth of that.</summary>
    /// <exception cref="FormatException">A run's records are not what its counts say.</exception>
    public EntryEnumerator Entries() => new(from, segments);

    internal struct EntryEnumerator(EncodedPlans from, ImmutableArray<EntrySegment> segments)
    {
        private int _segment = -1, _left, _at, _end;
        private KeptEntry _current;

        public readonly KeptEntry Current => _current;

        public readonly EntryEnumerator GetEnumerator() => this;

        public bool MoveNext()
        {
            while (_left == 0)
            {
                if (_segment >= 0 && segments[_segment].Entry is null && _at != _end)
                    throw new FormatException("a plan's records are not as many as it says");
                if (++_segment == segments.Length) return false;
                var segment = segments[_segment];
                if (segment.Entry is { } listed)
                {
                    _current = new KeptEntry(segment.Start, segment.End, default, listed);
                    return true;
                }
                (_left, _at, _end) = (segment.Count, segment.Start, segment.End);
            }
            var start = _at;
            var record = PlanCodec.Entry(from, ref _at, materialise: false);
            if (_at > _end) throw new FormatException("a record runs past its plan's");
            _left--;
            _current = new KeptEntry(start, _at, record, null);
            return true;
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
