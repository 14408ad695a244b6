using System.Collections.Immutable;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Reconciler.Diff.Planning;

namespace Reconciler.State;

/// <summary>Plans in binary, for <see cref="PlanSnapshotFile"/>. Every string is written once, in a table ahead of the
/// plans, and referred to by its index: a service's name, version and release recur in every environment, and a
/// reason or host group in thousands of entries, so the table keeps a 20,000-service snapshot at two fifths of its
/// size and reading it makes each distinct string once instead of seven strings an entry (the decoding of 60,000
/// entries was a fifth of a warm plan; docs/benchmarks.md, "Warm plan at the cost of the change"). Numbers are 7-bit
/// encoded. A snapshot made from another (an incremental plan) keeps that one's table and copies the records of the
/// entries it carries over, so saving it costs the change, not the repo. Every field is written;
/// PlanSnapshotFileTests pin the round trips.</summary>
internal static partial class PlanCodec
{
    /// <summary>Past this many strings per string of the last full write, a snapshot is written in full again rather
    /// than carried over: each carried-over snapshot appends the strings of what changed, and some of the old ones are
    /// no longer referred to. Doubling bounds the waste and makes the full write rare (amortised, still the change).</summary>
    private const int GrowthBeforeRewrite = 2;

    /// <summary>All plans, each string once in a new table: the counts and the table to <paramref name="w"/>; the
    /// records are returned, to be written after what <paramref name="w"/> holds (not copied into it: a copy touches as
    /// many pages of fresh memory as the records take, each a page fault).</summary>
    public static ReadOnlyMemory<byte>[] Write(BinaryWriter w, ImmutableArray<Plan> plans)
    {
        var strings = new StringTable(first: 0);
        var records = new Varints(EstimatedSize(plans));
        var writer = new Writer(records, strings);
        writer.Count(plans.Length);
        foreach (var plan in plans) writer.Plan(plan);
        w.Write7BitEncodedInt(strings.Count);   // the size of the last full write
        w.Write7BitEncodedInt(strings.Count);
        foreach (var text in strings.InOrder) w.Write(text);
        return [records.Written];
    }

    /// <summary>Plans made from those of <paramref name="carried"/>'s snapshot: the table of that snapshot as it was, the
    /// strings of what is new after it, and the records of the entries carried over copied as they were (their strings'
    /// indices are still those of the same table), so an unchanged entry costs a copy of its bytes, not an encoding.
    /// The counts go to <paramref name="w"/>; the rest is returned, to be written after it in order (the old table
    /// straight from the bytes it was read from).</summary>
    public static ReadOnlyMemory<byte>[] Write(BinaryWriter w, ImmutableArray<Plan> plans, CarriedEntries carried)
    {
        var from = carried.From;
        if (from.TableCount > GrowthBeforeRewrite * from.CompactCount || carried.Origins.Length != plans.Length
            || from.EntryOffsets.Length != plans.Length)
            return Write(w, plans);
        var strings = new StringTable(first: from.TableCount);
        var records = new Varints(from.Body.Length - from.TableEnd + (64 << 10));
        var writer = new Writer(records, strings);
        writer.Count(plans.Length);
        for (var p = 0; p < plans.Length; p++)
        {
            var (origins, offsets) = (carried.Origins[p], from.EntryOffsets[p]);
            if (origins.Length != plans[p].Services.Length) throw new ArgumentException("an origin for each entry", nameof(carried));
            writer.Plan(plans[p], i => origins[i] is var o and >= 0 ? from.Body.AsSpan(offsets[o], offsets[o + 1] - offsets[o]) : default);
        }
        w.Write7BitEncodedInt(from.CompactCount);
        w.Write7BitEncodedInt(from.TableCount + strings.Count);
        var added = new MemoryStream();
        using (var table = new BinaryWriter(added, System.Text.Encoding.UTF8, leaveOpen: true))
            foreach (var text in strings.InOrder) table.Write(text);
        return [from.Body.AsMemory(from.TableStart, from.TableEnd - from.TableStart), added.GetBuffer().AsMemory(0, (int)added.Length), records.Written];
    }

    /// <summary>About the bytes <paramref name="plans"/> take encoded: the buffers are made that size once, not doubled
    /// (each doubling copies and touches fresh memory, a page fault per 4 KB).</summary>
    private static int EstimatedSize(ImmutableArray<Plan> plans) => (int)Math.Min(plans.Sum(p => 48L * p.Services.Length), 1 << 30);

    /// <param name="r">Over a <see cref="MemoryStream"/> whose buffer is visible: the plans are read from it directly.</param>
    /// <param name="encoded">Where the plans' records are in that buffer, for the next snapshot to copy.</param>
    public static ImmutableArray<Plan> Read(BinaryReader r, out EncodedPlans encoded)
    {
        if (r.BaseStream is not MemoryStream stream || !stream.TryGetBuffer(out var buffer))
            throw new InvalidOperationException("plans are read from a visible memory buffer");
        var compactCount = r.Read7BitEncodedInt();
        var count = r.Read7BitEncodedInt();
        if (count is < 0 or > 10_000_000 || compactCount < 0 || compactCount > count) throw new FormatException($"bad count {count}");
        var tableStart = buffer.Offset + (int)stream.Position;
        var strings = new string[count];
        for (var i = 0; i < strings.Length; i++) strings[i] = r.ReadString();
        var cursor = new VarintCursor(buffer.Array!, buffer.Offset + (int)stream.Position, buffer.Offset + buffer.Count);
        var tableEnd = cursor.Position;
        var reader = new Reader(cursor, strings);
        var plans = ImmutableArray.CreateBuilder<Plan>(Count(cursor));
        var offsets = ImmutableArray.CreateBuilder<int[]>(plans.Capacity);
        for (var i = plans.Capacity; i > 0; i--)
        {
            plans.Add(reader.Plan(out var entries));
            offsets.Add(entries);
        }
        stream.Position = cursor.Position - buffer.Offset;
        encoded = new EncodedPlans(buffer.Array!, tableStart, tableEnd, count, compactCount, offsets.MoveToImmutable());
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

    /// <summary>The record entry <paramref name="entry"/> of a plan already has, or an empty span to encode it.</summary>
    private delegate ReadOnlySpan<byte> CarriedRecord(int entry);

    private sealed class Writer(Varints w, StringTable strings)
    {
        private Recent _reason, _version, _release, _hostGroup;

        public void Count(int n) => w.Varint(n);

        /// <summary>0 for null, else the table index + 1.</summary>
        private void Text(string? value) => w.Varint(value is null ? 0 : strings.IndexOf(value) + 1);

        private void Text(string? value, ref Recent slot) => w.Varint(value is null ? 0 : slot.IndexOf(value, strings) + 1);

        private void Int(int value) => w.Varint(value);

        public void Plan(Plan plan, CarriedRecord? carried = null)
        {
            Int(plan.FormatVersion);
            Text(plan.Environment);
            Text(plan.Commit);
            Text(plan.BaseCommit);
            w.Varint64(plan.LiveVersion);
            Count(plan.Services.Length);
            for (var i = 0; i < plan.Services.Length; i++)
            {
                var record = carried is null ? default : carried(i);
                if (record.IsEmpty) Service(plan.Services[i]);
                else w.Bytes(record);
            }
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

        private void Service(ServiceChange s)
        {
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
            w.Byte(s.Rollout is not null ? (byte)1 : (byte)0);
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

        private void Flag(bool? value) => w.Byte(value is null ? (byte)0xFF : value.Value ? (byte)1 : (byte)0);

        private void Names(ImmutableArray<string> names)
        {
            Count(names.Length);
            foreach (var n in names) Text(n);
        }
    }

    /// <summary>The records as bytes, numbers as in <see cref="BinaryWriter.Write7BitEncodedInt"/>; written straight
    /// into an array, where a BinaryWriter passes every byte through the stream's virtual WriteByte.</summary>
    private sealed class Varints(int capacity)
    {
        // Uninitialised: a page the estimate overshoots is never touched.
        private byte[] _bytes = GC.AllocateUninitializedArray<byte>(Math.Max(capacity, 1 << 16));
        private int _length;

        public ReadOnlyMemory<byte> Written => _bytes.AsMemory(0, _length);

        public void Varint(int value) => Varint64((uint)value);

        public void Varint64(long value)
        {
            if (_length + 10 > _bytes.Length) Array.Resize(ref _bytes, _bytes.Length * 2);
            var rest = (ulong)value;
            while (rest >= 0x80)
            {
                _bytes[_length++] = (byte)(rest | 0x80);
                rest >>= 7;
            }
            _bytes[_length++] = (byte)rest;
        }

        public void Bytes(ReadOnlySpan<byte> bytes)
        {
            if (_length + bytes.Length > _bytes.Length) Array.Resize(ref _bytes, Math.Max(_bytes.Length * 2, _length + bytes.Length));
            bytes.CopyTo(_bytes.AsSpan(_length));
            _length += bytes.Length;
        }

        public void Byte(byte value)
        {
            if (_length + 1 > _bytes.Length) Array.Resize(ref _bytes, _bytes.Length * 2);
            _bytes[_length++] = value;
        }
    }

}

/// <summary>Where a snapshot's plans are in the bytes it was read from: its string table, its size at the last full
/// write, and for each plan where each entry's record starts (and the last one ends).</summary>
internal sealed record EncodedPlans(byte[] Body, int TableStart, int TableEnd, int TableCount, int CompactCount, ImmutableArray<int[]> EntryOffsets);

/// <summary>For plans made from a snapshot's (<see cref="UseCases.IncrementalPlan.Merge"/>): for each plan and each of its
/// entries, the index of the snapshot's entry it is (the same service, the same values), or -1.</summary>
internal sealed record CarriedEntries(EncodedPlans From, ImmutableArray<int[]> Origins);
