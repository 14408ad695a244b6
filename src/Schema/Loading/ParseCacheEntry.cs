using System.Text.Json;
using Newtonsoft.Json.Linq;
using Reconciler.Schema.Model;

namespace Reconciler.Schema.Loading;

/// <summary>
/// The bytes the parse cache stores for one blob: the JSON tree, the position map and the file-level diagnostics
/// (no path: the same blob may sit at another path). The format carries a version; an entry of another version or
/// one that does not read is treated as a miss, never as an error, so an old on-disk cache is simply rebuilt.
/// </summary>
internal static class ParseCacheEntry
{
    /// <summary>Bump whenever the entry layout, the schemas or the diagnostic texts change.</summary>
    public const int FormatVersion = 1;

    private static readonly string SchemaFingerprint = ComputeSchemaFingerprint();

    public static byte[] Write(ParsedFile file)
    {
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteNumber("format", FormatVersion);
            w.WriteString("schemas", SchemaFingerprint);
            w.WriteString("kind", file.Kind);
            w.WriteStartArray("diagnostics");
            foreach (var d in file.Diagnostics)
            {
                w.WriteStartArray();
                w.WriteNumberValue((int)d.Severity);
                w.WriteStringValue(d.RuleId);
                w.WriteStringValue(d.Message);
                w.WriteNumberValue(d.Line);
                w.WriteNumberValue(d.Column);
                if (d.Pointer is null) w.WriteNullValue(); else w.WriteStringValue(d.Pointer);
                w.WriteEndArray();
            }
            w.WriteEndArray();
            w.WriteStartArray("nodes");
            foreach (var (pointer, n) in file.Nodes)
            {
                w.WriteStartArray();
                w.WriteStringValue(pointer);
                w.WriteNumberValue(n.Line);
                w.WriteNumberValue(n.Column);
                w.WriteNumberValue(n.KeyLine);
                w.WriteNumberValue(n.KeyColumn);
                w.WriteNumberValue((int)n.Kind);
                if (n.Raw is null) w.WriteNullValue(); else w.WriteStringValue(n.Raw);
                w.WriteEndArray();
            }
            w.WriteEndArray();
            w.WritePropertyName("root");
            WriteToken(w, file.Root);
            w.WriteEndObject();
        }
        return buffer.ToArray();
    }

    public static bool TryRead(byte[] entry, string expectedKind, out ParsedFile? file)
    {
        file = null;
        try
        {
            using var doc = JsonDocument.Parse(entry);
            var e = doc.RootElement;
            if (e.ValueKind != JsonValueKind.Object
                || !e.TryGetProperty("format", out var format) || format.ValueKind != JsonValueKind.Number || format.GetInt32() != FormatVersion
                || e.GetProperty("schemas").GetString() != SchemaFingerprint
                || e.GetProperty("kind").GetString() != expectedKind)
                return false;

            var diagnostics = new List<FileDiagnostic>();
            foreach (var d in e.GetProperty("diagnostics").EnumerateArray())
                diagnostics.Add(new FileDiagnostic((Severity)d[0].GetInt32(), d[1].GetString()!, d[2].GetString()!,
                    d[3].GetInt32(), d[4].GetInt32(), d[5].ValueKind == JsonValueKind.Null ? null : d[5].GetString()));

            var nodesElement = e.GetProperty("nodes");
            var nodes = new Dictionary<string, NodeInfo>(nodesElement.GetArrayLength(), StringComparer.Ordinal);
            foreach (var n in nodesElement.EnumerateArray())
                nodes[n[0].GetString()!] = new NodeInfo(n[1].GetInt32(), n[2].GetInt32(), n[3].GetInt32(), n[4].GetInt32(),
                    (NodeKind)n[5].GetInt32(), n[6].ValueKind == JsonValueKind.Null ? null : n[6].GetString());

            var rootElement = e.GetProperty("root");
            var root = rootElement.ValueKind == JsonValueKind.Null && !nodes.ContainsKey("") ? null : ReadToken(rootElement);
            file = new ParsedFile(expectedKind, root, nodes, diagnostics);
            return true;
        }
        catch (Exception ex) when (ex is JsonException or InvalidOperationException or KeyNotFoundException or IndexOutOfRangeException or FormatException)
        {
            return false; // a damaged or foreign entry: parse the file again
        }
    }

    private static void WriteToken(Utf8JsonWriter w, JToken? token)
    {
        switch (token?.Type)
        {
            case null or JTokenType.Null: w.WriteNullValue(); break;
            case JTokenType.Object:
                w.WriteStartObject();
                foreach (var p in ((JObject)token).Properties())
                {
                    w.WritePropertyName(p.Name);
                    WriteToken(w, p.Value);
                }
                w.WriteEndObject();
                break;
            case JTokenType.Array:
                w.WriteStartArray();
                foreach (var item in (JArray)token) WriteToken(w, item);
                w.WriteEndArray();
                break;
            case JTokenType.Integer: w.WriteNumberValue(token.Value<long>()); break;
            case JTokenType.Float:
                var d = token.Value<double>();
                // JSON has no infinity/NaN; keep them as strings tagged so they read back as floats.
                if (double.IsFinite(d)) w.WriteNumberValue(d); else w.WriteStringValue("\u0001" + d.ToString(System.Globalization.CultureInfo.InvariantCulture));
                break;
            case JTokenType.Boolean: w.WriteBooleanValue(token.Value<bool>()); break;
            default: w.WriteStringValue(token.Value<string>()); break;
        }
    }

    private static JToken ReadToken(JsonElement e)
    {
        switch (e.ValueKind)
        {
            case JsonValueKind.Object:
                var obj = new JObject();
                foreach (var p in e.EnumerateObject()) obj[p.Name] = ReadToken(p.Value);
                return obj;
            case JsonValueKind.Array:
                var array = new JArray();
                foreach (var item in e.EnumerateArray()) array.Add(ReadToken(item));
                return array;
            case JsonValueKind.Number:
                var raw = e.GetRawText();
                return raw.AsSpan().IndexOfAny(".eE") < 0 && e.TryGetInt64(out var l) ? new JValue(l) : new JValue(e.GetDouble());
            case JsonValueKind.True: return new JValue(true);
            case JsonValueKind.False: return new JValue(false);
            case JsonValueKind.Null: return JValue.CreateNull();
            default:
                var s = e.GetString()!;
                return s.Length > 0 && s[0] == '\u0001'
                    ? new JValue(double.Parse(s.AsSpan(1), System.Globalization.CultureInfo.InvariantCulture))
                    : new JValue(s);
        }
    }

    /// <summary>Entries made against other schemas would carry stale diagnostics, so the schemas' hash is part of the key.</summary>
    private static string ComputeSchemaFingerprint()
    {
        var assembly = typeof(ParseCacheEntry).Assembly;
        using var sha = System.Security.Cryptography.IncrementalHash.CreateHash(System.Security.Cryptography.HashAlgorithmName.SHA256);
        foreach (var kind in SchemaValidation.Kinds)
        {
            using var stream = assembly.GetManifestResourceStream($"schemas/{kind.ToLowerInvariant()}.schema.json");
            if (stream is null) continue;
            using var copy = new MemoryStream();
            stream.CopyTo(copy);
            sha.AppendData(copy.ToArray());
        }
        return Convert.ToHexStringLower(sha.GetHashAndReset())[..16];
    }
}
