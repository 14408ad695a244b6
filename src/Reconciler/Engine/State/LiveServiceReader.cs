using System.Collections.Immutable;
using System.Text.Json;
using Reconciler.Diff.Live;

namespace Reconciler.State;

/// <summary>
/// Reads one stored <see cref="LiveService"/> with <see cref="Utf8JsonReader"/> directly. Every plan and apply reads
/// every service of an environment from the store; this takes 2-3x less CPU than the serializer (5,000 services, first
/// use in a process: ~65 ms against ~190 ms; docs/benchmarks/planner.md). It accepts exactly what
/// ReconcilerJson writes for the type and is as strict as the serializer's options: an unknown or duplicate
/// property, a missing required one or a wrong type is a <see cref="JsonException"/>.
/// A test holds it to the serializer on every shape of value the executor writes.
/// </summary>
internal static class LiveServiceReader
{
    public static LiveService Read(ReadOnlySpan<byte> utf8)
    {
        try
        {
            return ReadService(utf8);
        }
        catch (InvalidOperationException e)
        {
            throw new JsonException(e.Message, e);   // e.g. text that is not valid UTF-8: damaged state, not a bug
        }
    }

    private static LiveService ReadService(ReadOnlySpan<byte> utf8)
    {
        var reader = new Utf8JsonReader(utf8);
        Next(ref reader, JsonTokenType.StartObject);
        string? name = null, version = null, releaseId = null, configHash = null, commit = null;
        ImmutableArray<string>? dependsOn = null;
        ImmutableSortedDictionary<string, string>? fields = null;
        PackedFields? packed = null;
        ImmutableSortedDictionary<string, LiveHost>? hosts = null;
        var seen = 0;
        while (Property(ref reader) is { } property)
        {
            var bit = property switch
            {
                "name" => 1, "version" => 2, "releaseId" => 4, "configHash" => 8, "commit" => 16,
                "dependsOn" => 32, "fields" => 64, "hosts" => 128,
                _ => throw new JsonException($"unknown property '{property}' in a stored service"),
            };
            if ((seen & bit) != 0) throw new JsonException($"duplicate property '{property}' in a stored service");
            seen |= bit;
            switch (bit)
            {
                case 1: name = String(ref reader); break;
                case 2: version = String(ref reader); break;
                case 4: releaseId = String(ref reader); break;
                case 8: configHash = String(ref reader); break;
                case 16: commit = String(ref reader); break;
                case 32: dependsOn = Strings(ref reader); break;
                case 64: (packed, fields) = Fields(ref reader); break;
                default: hosts = Hosts(ref reader); break;
            }
        }
        if (reader.Read()) throw new JsonException("content after the stored service");
        if (packed is null && fields is null) throw Missing("fields");
        (name, version, releaseId) = (name ?? throw Missing("name"), version ?? throw Missing("version"), releaseId ?? throw Missing("releaseId"));
        (configHash, commit) = (configHash ?? throw Missing("configHash"), commit ?? throw Missing("commit"));
        if (hosts is null) throw Missing("hosts");
        return packed is not null
            ? LiveService.FromPacked(name, version, releaseId, configHash, commit, dependsOn ?? [], packed, hosts)
            : new LiveService(name, version, releaseId, configHash, commit, dependsOn ?? [], fields!, hosts);
    }

    private static JsonException Missing(string property) => new($"missing property '{property}' in a stored service");

    private static void Next(ref Utf8JsonReader reader, JsonTokenType expected)
    {
        if (!reader.Read() || reader.TokenType != expected) throw new JsonException($"expected {expected}, found {reader.TokenType}");
    }

    /// <summary>The next property name of the current object, positioned on its value; null at the object's end.</summary>
    private static string? Property(ref Utf8JsonReader reader)
    {
        if (!reader.Read()) throw new JsonException("truncated stored service");
        if (reader.TokenType == JsonTokenType.EndObject) return null;
        var name = Text(ref reader);
        if (!reader.Read()) throw new JsonException("truncated stored service");
        return name;
    }

    private static string String(ref Utf8JsonReader reader) =>
        reader.TokenType == JsonTokenType.String ? Text(ref reader) : throw new JsonException($"expected a string, found {reader.TokenType}");

    // Field paths, host names and most values repeat across thousands of services: one string each per thread
    // instead of one per occurrence (less to allocate, and far less for the GC to copy as the state is kept).
    private const int MaxPooled = 4096, MaxPooledLength = 64;   // bounded: at most ~0.5 MB per thread, even in the long-running daemon

    [ThreadStatic] private static Dictionary<string, string>? t_pool;

    /// <summary>The current string or property name, pooled when short and plain.</summary>
    private static string Text(ref Utf8JsonReader reader)
    {
        if (reader.ValueIsEscaped || reader.HasValueSequence || reader.ValueSpan.Length > MaxPooledLength) return reader.GetString()!;
        Span<char> chars = stackalloc char[MaxPooledLength];
        if (System.Text.Unicode.Utf8.ToUtf16(reader.ValueSpan, chars, out _, out var written, replaceInvalidSequences: false) != System.Buffers.OperationStatus.Done)
            return reader.GetString()!;   // let the reader report bad UTF-8 as it would
        var pool = t_pool ??= new Dictionary<string, string>(StringComparer.Ordinal);
        var lookup = pool.GetAlternateLookup<ReadOnlySpan<char>>();
        if (lookup.TryGetValue(chars[..written], out var pooled)) return pooled;
        var text = new string(chars[..written]);
        if (pool.Count < MaxPooled) pool.Add(text, text);
        return text;
    }

    private static ImmutableArray<string> Strings(ref Utf8JsonReader reader)
    {
        if (reader.TokenType != JsonTokenType.StartArray) throw new JsonException($"expected an array, found {reader.TokenType}");
        var items = ImmutableArray.CreateBuilder<string>();
        while (reader.Read() && reader.TokenType != JsonTokenType.EndArray) items.Add(String(ref reader));
        return items.ToImmutable();
    }

    [ThreadStatic] private static PackedFields.Writer? t_fieldsWriter;
    [ThreadStatic] private static byte[]? t_unescaped;

    /// <summary>
    /// The fields object, packed as it is read (no string or dictionary per field: the planner compares a converged
    /// service by its packing, <see cref="PackedFields"/>). The packing stands for the fields when its paths ascend, as
    /// the product writes them (a sorted dictionary), which also proves no path repeats. Otherwise the dictionary is
    /// built now, so that a duplicate path is reported while the store is read, as the serializer would.
    /// </summary>
    private static (PackedFields? Packed, ImmutableSortedDictionary<string, string>? Map) Fields(ref Utf8JsonReader reader)
    {
        if (reader.TokenType != JsonTokenType.StartObject) throw new JsonException($"expected an object, found {reader.TokenType}");
        var writer = t_fieldsWriter ??= new PackedFields.Writer();
        writer.Reset();
        while (true)
        {
            if (!reader.Read()) throw new JsonException("truncated stored service");
            if (reader.TokenType == JsonTokenType.EndObject) break;
            AppendText(ref reader, writer);
            if (!reader.Read()) throw new JsonException("truncated stored service");
            if (reader.TokenType != JsonTokenType.String) throw new JsonException($"expected a string, found {reader.TokenType}");
            AppendText(ref reader, writer);
        }
        var packed = writer.ToPacked();
        if (writer.PathsAscending) return (packed, null);
        try
        {
            return (null, packed.Unpack());
        }
        catch (InvalidDataException e)
        {
            throw new JsonException(e.Message, e);
        }
    }

    /// <summary>The current string or property name into the packing, unescaped; text that is not UTF-8 is refused.</summary>
    private static void AppendText(ref Utf8JsonReader reader, PackedFields.Writer writer)
    {
        var utf8 = reader.ValueSpan;
        if (reader.ValueIsEscaped)
        {
            var buffer = t_unescaped is { } b && b.Length >= utf8.Length ? b : t_unescaped = new byte[Math.Max(utf8.Length, 1024)];
            utf8 = buffer.AsSpan(0, reader.CopyString(buffer));
        }
        if (!System.Text.Unicode.Utf8.IsValid(utf8)) throw new JsonException("a stored string is not valid UTF-8");
        writer.AppendUtf8(utf8);
        writer.EndString();
    }

    private static ImmutableSortedDictionary<string, LiveHost> Hosts(ref Utf8JsonReader reader)
    {
        if (reader.TokenType != JsonTokenType.StartObject) throw new JsonException($"expected an object, found {reader.TokenType}");
        var map = ImmutableSortedDictionary.CreateBuilder<string, LiveHost>(StringComparer.Ordinal);
        while (Property(ref reader) is { } key)
        {
            if (reader.TokenType != JsonTokenType.StartObject) throw new JsonException($"expected an object, found {reader.TokenType}");
            string? host = null, active = null, previous = null, unknown = null;
            while (Property(ref reader) is { } property)
            {
                switch (property)
                {
                    case "host" when host is null: host = String(ref reader); break;
                    case "activeRelease" when active is null: active = String(ref reader); break;
                    case "previousRelease" when previous is null:
                        previous = reader.TokenType == JsonTokenType.Null ? null : String(ref reader);
                        break;
                    case "unknownBecause" when unknown is null: unknown = String(ref reader); break;
                    default: throw new JsonException($"unknown or duplicate property '{property}' in a stored host");
                }
            }
            if (!map.TryAdd(key, new LiveHost(host ?? throw Missing("host"), active ?? throw Missing("activeRelease"), previous, unknown)))
                throw new JsonException($"duplicate key '{key}'");
        }
        return map.ToImmutable();
    }
}
