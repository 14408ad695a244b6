using System.Collections.Immutable;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Reconciler.Diff.Planning;

namespace Reconciler.State;

/// <summary>The reading half of <see cref="PlanCodec"/>: records decoded straight from the array the snapshot was read
/// into, each string taken from the table by its index.</summary>
internal static partial class PlanCodec
{
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
            return Defined<T>.Has(value) ? Unsafe.As<int, T>(ref value) : throw new FormatException($"bad {typeof(T).Name} {value}");
        }

        /// <param name="entries">Where each entry's record starts, and where the last one ends.</param>
        public Plan Plan(out int[] entries)
        {
            var (format, environment, commit, baseCommit, liveVersion) = (Int(), Text(), Text(), Optional(), r.Varint64());
            var services = new ServiceChange[Count(r)];
            entries = new int[services.Length + 1];
            for (var i = 0; i < services.Length; i++)
            {
                entries[i] = r.Position;
                services[i] = Service();
            }
            entries[services.Length] = r.Position;
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

    /// <summary>The values an enum defines, looked up by number in an array: Enum.IsDefined was asked for each of 60,000
    /// entries, a lookup in the enum's metadata every time.</summary>
    private static class Defined<T> where T : struct, Enum
    {
        private static readonly HashSet<int> Values = [.. System.Enum.GetValues<T>().Select(v => Convert.ToInt32(v, System.Globalization.CultureInfo.InvariantCulture))];
        private static readonly int Smallest = Values.Min();
        private static readonly bool[] Dense = Enumerable.Range(Smallest, Values.Max() - Smallest + 1).Select(Values.Contains).ToArray();

        public static bool Has(int value) => (uint)(value - Smallest) < (uint)Dense.Length && Dense[value - Smallest];
    }

    private static int Count(VarintCursor r)
    {
        var n = r.Varint();
        return n is >= 0 and <= 10_000_000 ? n : throw new FormatException($"bad count {n}");
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
