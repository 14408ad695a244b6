using System.Collections.Immutable;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Reconciler.Diff.Planning;

namespace Reconciler.State;

/// <summary>Plans in binary, for <see cref="PlanSnapshotFile"/>. Every string is written once, in a table ahead of the
/// plans, and referred to by its index: a service's name, version and release recur in every environment, and a
/// reason or host group in thousands of entries, so the table keeps a 20,000-service snapshot at two fifths of its
/// size. Numbers are 7-bit encoded. The heads of the plans come ahead of their records, so that reading a snapshot
/// reads the heads and leaves the records where they are (<see cref="SnapshotEntries"/>: decoding 60,000 entries was
/// most of a warm plan's growth with the repo; docs/benchmarks.md, "Carried-over entries stay records"). A snapshot
/// made from another (an incremental plan) keeps that one's table and writes the runs of records it carries over
/// straight from the bytes read, so saving it costs the change, not the repo. Every field is written but a host's
/// per-host config and repair: only entries with work have hosts, and an incremental plan plans every one of those
/// again. PlanSnapshotFileTests pin the round trips.</summary>
internal static partial class PlanCodec
{
    /// <summary>Past this many strings per string of the last full write, a snapshot is written in full again rather
    /// than carried over: each carried-over snapshot appends the strings of what changed, and some of the old ones are
    /// no longer referred to. Doubling bounds the waste and makes the full write rare (amortised, still the change).</summary>
    private const int GrowthBeforeRewrite = 2;

    /// <summary>All plans, each string once in a new table: the counts and the table to <paramref name="w"/>; the
    /// plans' heads and records are returned, to be written after what <paramref name="w"/> holds (not copied into it:
    /// a copy touches as many pages of fresh memory as the records take, each a page fault).</summary>
    public static ReadOnlyMemory<byte>[] Write(BinaryWriter w, ImmutableArray<Plan> plans)
    {
        var strings = new StringTable(first: 0);
        var writer = new Writer(strings, plans.Length, new Varints(EstimatedSize(plans)));
        foreach (var plan in plans)
        {
            var start = writer.Records.Length;
            foreach (var entry in plan.Services) writer.Service(entry);
            writer.Head(plan, plan.Services.Length, writer.Records.Length - start);
        }
        w.Write7BitEncodedInt(strings.Count);   // the size of the last full write
        w.Write7BitEncodedInt(strings.Count);
        foreach (var text in strings.InOrder) w.Write(text);
        return [.. writer.Heads.Parts, .. writer.Records.Parts];
    }

    /// <summary>Plans whose entries are all kept by one snapshot read from a file (<see cref="SnapshotEntries"/>: an
    /// incremental plan's): that snapshot's table as it was, the strings of what is new after it, and the records of the
    /// entries it carries over as they were (their strings' indices are still those of the same table), each run of
    /// them written straight from the bytes read, so an unchanged entry costs neither an encoding nor a copy. Any other
    /// plans are written in full. The counts go to <paramref name="w"/>; the rest is returned, to be written after it in
    /// order.</summary>
    public static ReadOnlyMemory<byte>[] WriteCarryingOver(BinaryWriter w, ImmutableArray<Plan> plans)
    {
        var from = plans.IsEmpty || plans[0].Deferred() is not SnapshotEntries first ? null : first.From;
        if (from is null || from.TableCount > GrowthBeforeRewrite * from.CompactCount
            || plans.Any(p => p.Deferred() is not SnapshotEntries e || e.From != from))
            return Write(w, plans);
        var strings = new StringTable(first: from.TableCount);
        var writer = new Writer(strings, plans.Length, new Varints(64 << 10));
        foreach (var plan in plans)
        {
            var entries = (SnapshotEntries)plan.Deferred()!;
            var start = writer.Records.Length;
            foreach (var segment in entries.Segments)
            {
                if (segment.Start < segment.End) writer.Records.Splice(from.Body, segment.Start, segment.End);
                else if (segment.Entry is { } entry) writer.Service(entry);   // (an empty run: a plan of no entries)
            }
            writer.Head(plan, entries.Count, writer.Records.Length - start);
        }
        w.Write7BitEncodedInt(from.CompactCount);
        w.Write7BitEncodedInt(from.TableCount + strings.Count);
        var added = new MemoryStream();
        using (var table = new BinaryWriter(added, System.Text.Encoding.UTF8, leaveOpen: true))
            foreach (var text in strings.InOrder) table.Write(text);
        return [from.Body.AsMemory(from.TableStart, from.TableEnd - from.TableStart), added.GetBuffer().AsMemory(0, (int)added.Length),
            .. writer.Heads.Parts, .. writer.Records.Parts];
    }

    /// <summary>About the bytes <paramref name="plans"/> take encoded: the buffers are made that size once, not doubled
    /// (each doubling copies and touches fresh memory, a page fault per 4 KB).</summary>
    private static int EstimatedSize(ImmutableArray<Plan> plans) => (int)Math.Min(plans.Sum(p => 48L * p.ServiceCount()), 1 << 30);

    /// <param name="r">Over a <see cref="MemoryStream"/> whose buffer is visible: the plans are read from it directly.</param>
    /// <param name="encoded">The bytes the plans' records are in, with the string table, for their entries to be read
    /// from and for the next snapshot to copy.</param>
    public static ImmutableArray<Plan> Read(BinaryReader r, out EncodedPlans encoded)
    {
        if (r.BaseStream is not MemoryStream stream || !stream.TryGetBuffer(out var buffer))
            throw new InvalidOperationException("plans are read from a visible memory buffer");
        var compactCount = r.Read7BitEncodedInt();
        var count = r.Read7BitEncodedInt();
        if (count is < 0 or > 10_000_000 || compactCount < 0 || compactCount > count) throw new FormatException($"bad count {count}");
        var end = buffer.Offset + buffer.Count;
        var cursor = new VarintCursor(buffer.Array!, buffer.Offset + (int)stream.Position, end);
        var tableStart = cursor.Position;
        var starts = new int[count];   // where each string's length is: one array, not two (it is fresh memory)
        for (var i = 0; i < count; i++)
        {
            starts[i] = cursor.Position;
            cursor.LengthPrefixed();
        }
        var tableEnd = cursor.Position;
        encoded = new EncodedPlans(buffer.Array!, tableStart, tableEnd, count, compactCount, new SnapshotStrings(buffer.Array!, starts));
        var heads = new (Plan Plan, int Count, long Length)[Count(ref cursor)];
        var reader = new Reader(cursor, encoded.Strings);
        for (var i = 0; i < heads.Length; i++) heads[i] = reader.Head();
        // The records of each plan follow the heads, back to back; they are read when an entry is asked for.
        var at = (long)reader.Position;
        var plans = ImmutableArray.CreateBuilder<Plan>(heads.Length);
        foreach (var (plan, entries, length) in heads)
        {
            if (length < 0 || at + length > end) throw new EndOfStreamException();
            plans.Add(plan.WithDeferred(new SnapshotEntries(encoded, [new EntrySegment((int)at, (int)(at + length), entries, null)], entries, carriedAreNoOps: false)));
            at += length;
        }
        if (at != end) throw new FormatException("bytes after the plans' records");
        stream.Position = stream.Length;
        return plans.MoveToImmutable();
    }

    /// <summary>Each distinct string once, numbered from <paramref name="first"/> (after a table carried over).</summary>
    private sealed class StringTable(int first)
    {
        private readonly Dictionary<string, int> _byText = new(StringComparer.Ordinal);
        public readonly List<string> InOrder = [];

        public int Count => InOrder.Count;

        public int IndexOf(string text)
        {
            if (!_byText.TryGetValue(text, out var index))
            {
                index = first + InOrder.Count;
                InOrder.Add(text);
                _byText.Add(text, index);
            }
            return index;
        }
    }

    /// <summary>A string slot of an entry (its reason, its host group) remembers the last string it wrote: most entries
    /// repeat the one before (the same instance), and a comparison of references spares hashing its text.</summary>
    private struct Recent
    {
        private string? _text;
        private int _index;

        public int IndexOf(string text, StringTable strings)
        {
            if (!ReferenceEquals(text, _text)) (_text, _index) = (text, strings.IndexOf(text));
            return _index;
        }
    }

    /// <summary>Writes the plans' heads (the count of plans first, then each plan's values, its count of entries and the
    /// bytes its records take, its toggles and waves) and, apart, their records.</summary>
    private sealed class Writer
    {
        private readonly StringTable _strings;
        private Varints _w;
        private Recent _reason, _version, _release, _hostGroup;

        public Writer(StringTable strings, int plans, Varints records)
        {
            (_strings, Records, _w) = (strings, records, Heads);
            Count(plans);
        }

        public Varints Heads { get; } = new(1 << 12);

        public Varints Records { get; }

        private void Count(int n) => _w.Varint(n);

        /// <summary>0 for null, else the table index + 1.</summary>
        private void Text(string? value) => _w.Varint(value is null ? 0 : _strings.IndexOf(value) + 1);

        private void Text(string? value, ref Recent slot) => _w.Varint(value is null ? 0 : slot.IndexOf(value, _strings) + 1);

        private void Int(int value) => _w.Varint(value);

        /// <param name="entries">How many entries the plan's records hold.</param>
        /// <param name="recordsLength">How many bytes they take.</param>
        public void Head(Plan plan, int entries, long recordsLength)
        {
            _w = Heads;
            Int(plan.FormatVersion);
            Text(plan.Environment);
            Text(plan.Commit);
            Text(plan.BaseCommit);
            _w.Varint64(plan.LiveVersion);
            Count(entries);
            _w.Varint64(recordsLength);
            Count(plan.Toggles.Length);
            foreach (var t in plan.Toggles)
            {
                Text(t.Toggle);
                Int((int)t.Action);
                Flag(t.Before);
                Flag(t.After);
                Count(t.Requires.Count);
                foreach (var (k, v) in t.Requires) { Text(k); Text(v); }
                Text(t.Reason);
                Int(t.Wave);
            }
            Count(plan.Waves.Length);
            foreach (var wave in plan.Waves)
            {
                Int(wave.Index);
                Int((int)wave.Kind);
                Names(wave.Services);
                Names(wave.TogglesBefore);
                Names(wave.TogglesAfter);
            }
        }

        public void Service(ServiceChange s)
        {
            _w = Records;
            Text(s.Service);
            Int((int)s.Action);
            Text(s.Reason, ref _reason);
            // A no-op's versions and releases are the same before and after.
            Text(s.FromVersion, ref _version);
            Text(s.ToVersion, ref _version);
            Text(s.FromRelease, ref _release);
            Text(s.ToRelease, ref _release);
            Text(s.HostGroup, ref _hostGroup);
            Count(s.Fields.Length);
            foreach (var f in s.Fields)
            {
                Text(f.Path);
                Int((int)f.Kind);
                Text(f.Before);
                Text(f.After);
            }
            Count(s.Hosts.Length);
            foreach (var h in s.Hosts)
            {
                Text(h.Host);
                Text(h.Region);
                Text(h.FromRelease);
                Text(h.ToRelease);
            }
            Int(s.Wave);
            _w.Byte(s.Rollout is not null ? (byte)1 : (byte)0);
            if (s.Rollout is { } o)
            {
                Text(o.Strategy);
                Text(o.MaxParallel);
                Int(o.CanaryHosts ?? -1);
                Int(o.HealthChecks);
                Int(o.ConsecutivePasses);
                Text(o.Deadline);
                Text(o.OnFailure);
            }
        }

        private void Flag(bool? value) => _w.Byte(value is null ? (byte)0xFF : value.Value ? (byte)1 : (byte)0);

        private void Names(ImmutableArray<string> names)
        {
            Count(names.Length);
            foreach (var n in names) Text(n);
        }
    }

    /// <summary>Bytes, numbers as in <see cref="BinaryWriter.Write7BitEncodedInt"/>, written straight into an array
    /// (where a BinaryWriter passes every byte through the stream's virtual WriteByte), and runs of bytes that already
    /// are somewhere, taken as they are (<see cref="Splice"/>): the result is in parts, written one after the other.</summary>
    private sealed class Varints(int capacity)
    {
        // Uninitialised: a page the estimate overshoots is never touched.
        private byte[] _bytes = GC.AllocateUninitializedArray<byte>(Math.Max(capacity, 1 << 12));
        private int _length, _partStart;
        private readonly List<(byte[] Bytes, int Start, int End)> _parts = [];
        private long _spliced, _grown;

        /// <summary>Every byte so far, written (in this array and the ones before it) or spliced.</summary>
        public long Length => _spliced + _grown + _length;

        public ReadOnlyMemory<byte>[] Parts =>
        [
            .. _parts.Select(p => p.Bytes.AsMemory(p.Start, p.End - p.Start)),
            .. _length > _partStart ? [_bytes.AsMemory(_partStart, _length - _partStart)] : Array.Empty<ReadOnlyMemory<byte>>(),
        ];

        /// <summary>Bytes [<paramref name="start"/>, <paramref name="end"/>) of <paramref name="bytes"/> next, as they are
        /// (they must stay as they are until the parts are written); a run that continues the last one extends it.</summary>
        public void Splice(byte[] bytes, int start, int end)
        {
            if (_length == _partStart && _parts.Count > 0 && _parts[^1] is var last && last.Bytes == bytes && last.End == start)
                _parts[^1] = last with { End = end };
            else
            {
                if (_length > _partStart) _parts.Add((_bytes, _partStart, _length));
                _partStart = _length;
                _parts.Add((bytes, start, end));
            }
            _spliced += end - start;
        }

        public void Varint(int value) => Varint64((uint)value);

        public void Varint64(long value)
        {
            if (_length + 10 > _bytes.Length) Grow();
            var rest = (ulong)value;
            while (rest >= 0x80)
            {
                _bytes[_length++] = (byte)(rest | 0x80);
                rest >>= 7;
            }
            _bytes[_length++] = (byte)rest;
        }

        public void Byte(byte value)
        {
            if (_length + 1 > _bytes.Length) Grow();
            _bytes[_length++] = value;
        }

        /// <summary>A new array twice the size; what is written and not yet in a part moves to it (the parts keep theirs).</summary>
        private void Grow()
        {
            if (_length > _partStart) _parts.Add((_bytes, _partStart, _length));
            _grown += _length;
            _bytes = GC.AllocateUninitializedArray<byte>(_bytes.Length * 2);
            (_length, _partStart) = (0, 0);
        }
    }
}

/// <summary>The bytes a snapshot was read from: where its string table is (and the strings, <see cref="SnapshotStrings"/>),
/// its size at the last full write, for the plans' <see cref="SnapshotEntries"/> to read their records from.</summary>
internal sealed record EncodedPlans(byte[] Body, int TableStart, int TableEnd, int TableCount, int CompactCount, SnapshotStrings Strings);
