using System.Collections.Immutable;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Reconciler.Diff.Planning;

namespace Reconciler.State;

/// <summary>Plans in binary, for <see cref="PlanSnapshotFile"/>. Every string is written once, in a table ahead of the
/// plans, and referred to by its index: a service's name, version and release recur in every environment, and a
/// reason or host group in thousands of entries, so the table keeps a 20,000-service snapshot at about a fifth of its
/// size and reading it makes each distinct string once instead of seven strings an entry (the decoding of 60,000
/// entries was a quarter of a warm plan; docs/benchmarks.md, "Warm plan flat"). Numbers are 7-bit encoded. Every field
/// is written; the round trip is pinned by a test.</summary>
internal static class PlanCodec
{
    public static void Write(BinaryWriter w, ImmutableArray<Plan> plans)
    {
        var strings = new StringTable();
        var records = new Varints();
        var writer = new Writer(records, strings);
        writer.Count(plans.Length);
        foreach (var plan in plans) writer.Plan(plan);
        w.Write7BitEncodedInt(strings.Count);
        foreach (var text in strings.InOrder) w.Write(text);
        w.Write(records.Written);
    }

    /// <param name="r">Over a <see cref="MemoryStream"/> whose buffer is visible: the plans are read from it directly.</param>
    public static ImmutableArray<Plan> Read(BinaryReader r)
    {
        var count = r.Read7BitEncodedInt();
        if (count is < 0 or > 10_000_000) throw new FormatException($"bad count {count}");
        var strings = new string[count];
        for (var i = 0; i < strings.Length; i++) strings[i] = r.ReadString();
        if (r.BaseStream is not MemoryStream stream || !stream.TryGetBuffer(out var buffer))
            throw new InvalidOperationException("plans are read from a visible memory buffer");
        var cursor = new VarintCursor(buffer.Array!, buffer.Offset + (int)stream.Position, buffer.Offset + buffer.Count);
        var reader = new Reader(cursor, strings);
        var plans = ImmutableArray.CreateBuilder<Plan>(Count(cursor));
        for (var i = plans.Capacity; i > 0; i--) plans.Add(reader.Plan());
        stream.Position = cursor.Position - buffer.Offset;
        return plans.MoveToImmutable();
    }

    /// <summary>Each distinct string once, by its first index.</summary>
    private sealed class StringTable
    {
        private readonly Dictionary<string, int> _byText = new(StringComparer.Ordinal);
        public readonly List<string> InOrder = [];

        public int Count => InOrder.Count;

        public int IndexOf(string text)
        {
            if (!_byText.TryGetValue(text, out var index))
            {
                index = InOrder.Count;
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

    private sealed class Writer(Varints w, StringTable strings)
    {
        private Recent _reason, _version, _release, _hostGroup;

        public void Count(int n) => w.Varint(n);

        /// <summary>0 for null, else the table index + 1.</summary>
        private void Text(string? value) => w.Varint(value is null ? 0 : strings.IndexOf(value) + 1);

        private void Text(string? value, ref Recent slot) => w.Varint(value is null ? 0 : slot.IndexOf(value, strings) + 1);

        private void Int(int value) => w.Varint(value);

        public void Plan(Plan plan)
        {
            Int(plan.FormatVersion);
            Text(plan.Environment);
            Text(plan.Commit);
            Text(plan.BaseCommit);
            w.Varint64(plan.LiveVersion);
            Count(plan.Services.Length);
            foreach (var s in plan.Services) Service(s);
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

    private readonly struct Reader(VarintCursor r, string[] strings)
    {
        private string? Optional()
        {
            var at = r.Varint();
            return at == 0 ? null : (uint)(at - 1) < (uint)strings.Length ? strings[at - 1] : throw new FormatException($"bad string {at}");
        }

        private string Text() => Optional() ?? throw new FormatException("a required string is missing");

        private int Int() => r.Varint();

        private T Enum<T>() where T : struct, Enum
        {
            var value = r.Varint();
            var e = Unsafe.As<int, T>(ref value);
            return System.Enum.IsDefined(e) ? e : throw new FormatException($"bad {typeof(T).Name} {value}");
        }

        public Plan Plan()
        {
            var (format, environment, commit, baseCommit, liveVersion) = (Int(), Text(), Text(), Optional(), r.Varint64());
            var services = new ServiceChange[Count(r)];
            for (var i = 0; i < services.Length; i++) services[i] = Service();
            var toggles = new ToggleChange[Count(r)];
            for (var i = 0; i < toggles.Length; i++)
            {
                var (name, action, before, after) = (Text(), Enum<ToggleAction>(), Flag(), Flag());
                var requires = ImmutableSortedDictionary.CreateBuilder<string, string>(StringComparer.Ordinal);
                for (var n = Count(r); n > 0; n--) requires.Add(Text(), Text());
                toggles[i] = new ToggleChange(name, action, before, after, requires.ToImmutable(), Text(), Int());
            }
            var waves = new PlanWave[Count(r)];
            for (var i = 0; i < waves.Length; i++)
                waves[i] = new PlanWave(Int(), Enum<WaveKind>(), Names(), Names(), Names());
            return new Plan(format, environment, commit, baseCommit, liveVersion, ImmutableCollectionsMarshal.AsImmutableArray(services),
                ImmutableCollectionsMarshal.AsImmutableArray(toggles), ImmutableCollectionsMarshal.AsImmutableArray(waves));
        }

        private ServiceChange Service()
        {
            var (service, action, reason) = (Text(), Enum<ServiceAction>(), Text());
            var (fromVersion, toVersion, fromRelease, toRelease, hostGroup) = (Optional(), Optional(), Optional(), Optional(), Text());
            var fields = Count(r) is var fieldCount and > 0 ? new FieldChange[fieldCount] : [];
            for (var i = 0; i < fields.Length; i++) fields[i] = new FieldChange(Text(), Enum<FieldChangeKind>(), Optional(), Optional());
            var hosts = Count(r) is var hostCount and > 0 ? new HostChange[hostCount] : [];
            for (var i = 0; i < hosts.Length; i++) hosts[i] = new HostChange(Text(), Optional(), Optional(), Optional());
            var wave = Int();
            Rollout? rollout = null;
            if (r.Byte() switch { 0 => false, 1 => true, var b => throw new FormatException($"not a boolean: {b}") })
            {
                var (strategy, maxParallel, canary) = (Text(), Text(), Int());
                rollout = new Rollout(strategy, maxParallel, canary < 0 ? null : canary, Int(), Int(), Text(), Text());
            }
            return new ServiceChange(service, action, reason, fromVersion, toVersion, fromRelease, toRelease, hostGroup,
                ImmutableCollectionsMarshal.AsImmutableArray(fields), ImmutableCollectionsMarshal.AsImmutableArray(hosts), wave)
            {
                Rollout = rollout,
            };
        }

        private bool? Flag() => r.Byte() switch
        {
            0xFF => null,
            0 => false,
            1 => true,
            var b => throw new FormatException($"not a flag: {b}"),
        };

        private ImmutableArray<string> Names()
        {
            var names = Count(r) is var n and > 0 ? new string[n] : [];
            for (var i = 0; i < names.Length; i++) names[i] = Text();
            return ImmutableCollectionsMarshal.AsImmutableArray(names);
        }
    }

    private static int Count(VarintCursor r)
    {
        var n = r.Varint();
        return n is >= 0 and <= 10_000_000 ? n : throw new FormatException($"bad count {n}");
    }

    /// <summary>The records as bytes, numbers as in <see cref="BinaryWriter.Write7BitEncodedInt"/>; written straight
    /// into an array, where a BinaryWriter passes every byte through the stream's virtual WriteByte.</summary>
    private sealed class Varints
    {
        private byte[] _bytes = new byte[1 << 16];
        private int _length;

        public ReadOnlySpan<byte> Written => _bytes.AsSpan(0, _length);

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

        public void Byte(byte value)
        {
            if (_length + 1 > _bytes.Length) Array.Resize(ref _bytes, _bytes.Length * 2);
            _bytes[_length++] = value;
        }
    }

    /// <summary>Reads what <see cref="Varints"/> wrote, within <c>[position, end)</c> of an array.</summary>
    private sealed class VarintCursor(byte[] bytes, int position, int end)
    {
        public int Position => position;

        public byte Byte() => position < end ? bytes[position++] : throw new EndOfStreamException();

        public int Varint()
        {
            var value = Varint64();
            return value <= uint.MaxValue ? (int)(uint)value : throw new FormatException("a number too large");
        }

        public long Varint64()
        {
            ulong value = 0;
            for (var shift = 0; shift < 70; shift += 7)
            {
                var b = Byte();
                value |= (ulong)(b & 0x7F) << shift;
                if (b < 0x80) return (long)value;
            }
            throw new FormatException("a number too long");
        }
    }
}
