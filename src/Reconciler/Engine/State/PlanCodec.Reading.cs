using System.Collections.Immutable;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;
using Reconciler.Diff.Planning;

namespace Reconciler.State;

/// <summary>The reading half of <see cref="PlanCodec"/>. Reading a snapshot reads the heads of its plans; their
/// records stay as they are in the bytes read, and the plan keeps them as <see cref="SnapshotEntries"/>, read when an
/// entry is asked for. Strings stay UTF-8 in those bytes until one is asked for. Decoding 60,000 entries into objects
/// was most of what a warm plan at 20,000 services spent on its snapshot, nearly all of it the first touch of fresh
/// memory (docs/benchmarks.md, "Carried-over entries stay records").</summary>
internal static partial class PlanCodec
{
    /// <summary>What an entry's record says without decoding it: its strings as table indices + 1 (0 for null), its
    /// action and wave, and whether it is plain (no fields, no hosts, no rollout); with the entry itself when asked.</summary>
    internal readonly record struct EntryRecord(int Service, ServiceAction Action, int Reason, int FromVersion, int ToVersion,
        int FromRelease, int ToRelease, int HostGroup, int Wave, bool Plain, ServiceChange? Entry);

    /// <summary>A struct over a struct cursor: reading an entry allocates nothing but what it decodes.</summary>
    private struct Reader(VarintCursor r, SnapshotStrings strings)
    {
        public readonly int Position => r.Position;

        /// <summary>A string's table index + 1, or 0 for null.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private int Index()
        {
            var at = r.Varint();
            return (uint)at <= (uint)strings.Count ? at : throw new FormatException($"bad string {at}");
        }

        private string? Optional() => Index() is var at and > 0 ? strings[at - 1] : null;

        private string Text() => Optional() ?? throw new FormatException("a required string is missing");

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private int Required() => Index() is var at and > 0 ? at : throw new FormatException("a required string is missing");

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private int Int() => r.Varint();

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private T Enum<T>() where T : struct, Enum
        {
            var value = r.Varint();
            return Defined<T>.Has(value) ? Unsafe.As<int, T>(ref value) : throw new FormatException($"bad {typeof(T).Name} {value}");
        }

        /// <summary>A plan's head: the plan without its entries, how many entries its records hold and the bytes they take.</summary>
        public (Plan Plan, int Entries, long RecordsLength) Head()
        {
            var (format, environment, commit, baseCommit, liveVersion) = (Int(), Text(), Text(), Optional(), r.Varint64());
            var (entries, recordsLength) = (Count(ref r), r.Varint64());
            var toggles = new ToggleChange[Count(ref r)];
            for (var i = 0; i < toggles.Length; i++)
            {
                var (name, action, before, after) = (Text(), Enum<ToggleAction>(), Flag(), Flag());
                var requires = ImmutableSortedDictionary.CreateBuilder<string, string>(StringComparer.Ordinal);
                for (var n = Count(ref r); n > 0; n--) requires.Add(Text(), Text());
                toggles[i] = new ToggleChange(name, action, before, after, requires.ToImmutable(), Text(), Int());
            }
            var waves = new PlanWave[Count(ref r)];
            for (var i = 0; i < waves.Length; i++)
                waves[i] = new PlanWave(Int(), Enum<WaveKind>(), Names(), Names(), Names());
            var plan = new Plan(format, environment, commit, baseCommit, liveVersion, [],
                ImmutableCollectionsMarshal.AsImmutableArray(toggles), ImmutableCollectionsMarshal.AsImmutableArray(waves));
            return (plan, entries, recordsLength);
        }

        /// <summary>One entry's record, every part checked; the entry made only when <paramref name="materialise"/>.</summary>
        public EntryRecord Entry(bool materialise)
        {
            var (service, action, reason) = (Required(), Enum<ServiceAction>(), Required());
            var (fromVersion, toVersion, fromRelease, toRelease, hostGroup) = (Index(), Index(), Index(), Index(), Required());
            var fieldCount = Count(ref r);
            var fields = materialise && fieldCount > 0 ? new FieldChange[fieldCount] : [];
            for (var i = 0; i < fieldCount; i++)
            {
                var (path, kind, before, after) = (Required(), Enum<FieldChangeKind>(), Index(), Index());
                if (materialise) fields[i] = new FieldChange(strings[path - 1], kind, String(before), String(after));
            }
            var hostCount = Count(ref r);
            var hosts = materialise && hostCount > 0 ? new HostChange[hostCount] : [];
            for (var i = 0; i < hostCount; i++)
            {
                var (host, region, from, to) = (Required(), Index(), Index(), Index());
                if (materialise) hosts[i] = new HostChange(strings[host - 1], String(region), String(from), String(to));
            }
            var wave = Int();
            Rollout? rollout = null;
            var hasRollout = r.Byte() switch { 0 => false, 1 => true, var b => throw new FormatException($"not a boolean: {b}") };
            if (hasRollout)
            {
                var (strategy, maxParallel, canary) = (Text(), Text(), Int());
                rollout = new Rollout(strategy, maxParallel, canary < 0 ? null : canary, Int(), Int(), Text(), Text());
            }
            var entry = materialise
                ? new ServiceChange(strings[service - 1], action, strings[reason - 1], String(fromVersion), String(toVersion),
                    String(fromRelease), String(toRelease), strings[hostGroup - 1], ImmutableCollectionsMarshal.AsImmutableArray(fields),
                    ImmutableCollectionsMarshal.AsImmutableArray(hosts), wave) { Rollout = rollout }
                : null;
            return new EntryRecord(service, action, reason, fromVersion, toVersion, fromRelease, toRelease, hostGroup, wave,
                fieldCount == 0 && hostCount == 0 && !hasRollout, entry);
        }

        private string? String(int index) => index == 0 ? null : strings[index - 1];

        private bool? Flag() => r.Byte() switch
        {
            0xFF => null,
            0 => false,
            1 => true,
            var b => throw new FormatException($"not a flag: {b}"),
        };

        private ImmutableArray<string> Names()
        {
            var names = Count(ref r) is var n and > 0 ? new string[n] : [];
            for (var i = 0; i < names.Length; i++) names[i] = Text();
            return ImmutableCollectionsMarshal.AsImmutableArray(names);
        }
    }

    /// <summary>The record at <paramref name="position"/> of <paramref name="source"/>'s bytes, every part checked;
    /// <paramref name="position"/> moves past it.</summary>
    internal static EntryRecord Entry(EncodedPlans source, ref int position, bool materialise)
    {
        var reader = new Reader(new VarintCursor(source.Body, position, source.Body.Length), source.Strings);
        var record = reader.Entry(materialise);
        position = reader.Position;
        return record;
    }

    /// <summary>The UTF-8 of a string of the table, read where <see cref="SnapshotStrings"/> noted it (the table was
    /// checked when read). A string under 128 bytes (nearly all) has a one-byte length: read inline, as the JSON of a
    /// warm plan asks for seven strings of each of 60,000 entries.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static ReadOnlySpan<byte> TableString(byte[] body, int start)
    {
        var length = body[start];
        return length < 0x80 ? body.AsSpan(start + 1, length) : LongTableString(body, start);
    }

    private static ReadOnlySpan<byte> LongTableString(byte[] body, int start)
    {
        var cursor = new VarintCursor(body, start, body.Length);
        var (at, length) = cursor.LengthPrefixed();
        return body.AsSpan(at, length);
    }

    /// <summary>The values an enum defines, looked up by number in an array: Enum.IsDefined was asked for each of 60,000
    /// entries, a lookup in the enum's metadata every time.</summary>
    private static class Defined<T> where T : struct, Enum
    {
        private static readonly HashSet<int> Values = [.. System.Enum.GetValues<T>().Select(v => Convert.ToInt32(v, System.Globalization.CultureInfo.InvariantCulture))];
        private static readonly int Smallest = Values.Min();
        private static readonly bool[] Dense = Enumerable.Range(Smallest, Values.Max() - Smallest + 1).Select(Values.Contains).ToArray();

        public static bool Has(int value) => (uint)(value - Smallest) < (uint)Dense.Length && Dense[value - Smallest];
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int Count(ref VarintCursor r)
    {
        var n = r.Varint();
        return n is >= 0 and <= 10_000_000 ? n : throw new FormatException($"bad count {n}");
    }

    /// <summary>Reads what <see cref="Varints"/> wrote, within <c>[position, end)</c> of an array.</summary>
    private struct VarintCursor(byte[] bytes, int position, int end)
    {
        public readonly int Position => position;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public byte Byte() => position < end ? bytes[position++] : throw new EndOfStreamException();

        /// <summary>A record's numbers (counts, waves, string indices into a table of up to 2 million) take one to three
        /// bytes: those are read inline.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public int Varint()
        {
            if (position + 2 < end)
            {
                int b0 = bytes[position];
                if (b0 < 0x80)
                {
                    position++;
                    return b0;
                }
                int b1 = bytes[position + 1];
                if (b1 < 0x80)
                {
                    position += 2;
                    return (b0 & 0x7F) | (b1 << 7);
                }
                int b2 = bytes[position + 2];
                if (b2 < 0x80)
                {
                    position += 3;
                    return (b0 & 0x7F) | ((b1 & 0x7F) << 7) | (b2 << 14);
                }
            }
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

        /// <summary>A string as <see cref="BinaryWriter.Write(string)"/> wrote it: where its UTF-8 starts, and its length.</summary>
        public (int Start, int Length) LengthPrefixed()
        {
            var length = Varint();
            if (length < 0 || length > end - position) throw new EndOfStreamException();
            var start = position;
            position += length;
            return (start, length);
        }
    }
}

/// <summary>The string table of a snapshot read from a file: each string stays UTF-8 where it lies in the bytes read,
/// and is made a string the first time it is asked for. Few are (the names a merge compares, the entries something
/// materialises), so they are kept by index in a dictionary: an array of 60,000 references would be fresh memory.</summary>
/// <param name="starts">Where each string is, at the 7-bit length ahead of its UTF-8.</param>
internal sealed class SnapshotStrings(byte[] body, int[] starts)
{
    private readonly System.Collections.Concurrent.ConcurrentDictionary<int, string> _strings = new();

    public int Count => starts.Length;

    public ReadOnlySpan<byte> Utf8(int index) => PlanCodec.TableString(body, starts[index]);

    public string this[int index] => _strings.TryGetValue(index, out var text) ? text : _strings.GetOrAdd(index, Encoding.UTF8.GetString(Utf8(index)));

    /// <summary>For the JSON writer (<see cref="UseCases.NoOpEntryJson"/>), per string: 0 not yet looked at, 1 written
    /// as it is, -1 needs escaping. Kept here so that each string is looked at once for all the plans written from
    /// this snapshot.</summary>
    public sbyte[] JsonVerbatim => _jsonVerbatim ??= new sbyte[starts.Length];   // made by the first writer (a race makes two: no harm)

    private sbyte[]? _jsonVerbatim;
}
