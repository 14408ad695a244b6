using System.Text.Json;
using Newtonsoft.Json.Linq;
using Reconciler.Schema.Model;

namespace Reconciler.Schema.Loading;

/// <summary>
/// The bytes the parse cache stores for one blob, in three parts:
/// (1) a header: format version, schema fingerprint, kind and the file-level diagnostics;
/// (2) when the file is valid: its typed definition (<see cref="ModelCodec"/>) and per-file findings, with the
///     fingerprint of the repository defaults they were made under;
/// (3) the JSON tree and the position map, decoded only on demand (to place an error, or to read the definition
///     again under other defaults).
/// No path is stored (the same blob may sit at another path). An entry of another version, or one that does not
/// read, is a miss, never an error, so an old on-disk cache is simply rebuilt.
/// </summary>
internal static class ParseCacheEntry
{
    /// <summary>Bump whenever the entry layout, the schemas, the diagnostic texts or the set of per-file checks change.</summary>
    public const int FormatVersion = 3;

    private static ReadOnlySpan<byte> Magic => "RCPE"u8;

    private static readonly string SchemaFingerprint = ComputeSchemaFingerprint();

    /// <summary>A freshly parsed file, with its definition when it has one.</summary>
    public static byte[] Write(ParsedFile file, FileModel? model)
    {
        var treeSection = file.TreeSection ?? WriteTree(file);
        var w = new ModelWriter();
        foreach (var b in Magic) w.Byte(b);
        w.Int(FormatVersion);
        w.Int(ModelCodec.Version);
        w.String(SchemaFingerprint);
        w.String(file.Kind);
        w.Bool(file.HasRoot);
        WriteDiagnostics(w, file.Diagnostics);
        w.Bool(model is not null);
        if (model is not null)
        {
            w.String(model.DefaultsFingerprint);
            WriteDiagnostics(w, model.Diagnostics);
            ModelCodec.Write(w, model.Definition);
        }
        w.Bytes(treeSection);
        return w.WrittenSpan.ToArray();
    }

    public static bool TryRead(byte[] entry, string expectedKind, string path, out ParsedFile? file)
    {
        file = null;
        try
        {
            var r = new ModelReaderSpan(entry);
            foreach (var b in Magic)
                if (r.Byte() != b) return false;
            if (r.Int() != FormatVersion || r.Int() != ModelCodec.Version || r.String() != SchemaFingerprint || r.String() != expectedKind)
                return false;
            var hasRoot = r.Bool();
            var diagnostics = ReadDiagnostics(ref r);
            FileModel? model = null;
            if (r.Bool())
            {
                var fingerprint = r.String();
                var modelDiagnostics = ReadDiagnostics(ref r);
                model = new FileModel(ModelCodec.Read(ref r, path), fingerprint, modelDiagnostics);
            }
            var tree = r.Bytes().ToArray();
            if (!r.AtEnd) return false;
            file = new ParsedFile(expectedKind, hasRoot, () => ReadTree(tree), diagnostics, tree, model);
            return true;
        }
        catch (FormatException)
        {
            return false; // a damaged or foreign entry: parse the file again
        }
    }

    private static void WriteDiagnostics(ModelWriter w, List<FileDiagnostic> diagnostics)
    {
        w.Count(diagnostics.Count);
        foreach (var d in diagnostics)
        {
            w.Int((int)d.Severity);
            w.String(d.RuleId);
            w.String(d.Message);
            w.Int(d.Line);
            w.Int(d.Column);
            w.NullableString(d.Pointer);
        }
    }

    private static List<FileDiagnostic> ReadDiagnostics(ref ModelReaderSpan r)
    {
        var count = r.Count();
        var diagnostics = new List<FileDiagnostic>(count);
        for (var i = 0; i < count; i++)
            diagnostics.Add(new FileDiagnostic((Severity)r.Int(), r.String(), r.String(), r.Int(), r.Int(), r.NullableString()));
        return diagnostics;
    }

    /// <summary>The tree part: the position map and the JSON tree as one JSON document.</summary>
    private static byte[] WriteTree(ParsedFile file)
    {
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
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

    /// <summary>The tree part was checksummed with the rest of the entry, so damage here means a bug, not a bad disk:
    /// let it surface rather than mask it.</summary>
    private static (JToken? Root, Dictionary<string, NodeInfo> Nodes) ReadTree(byte[] tree)
    {
        using var doc = JsonDocument.Parse(tree);
        var e = doc.RootElement;
        var nodesElement = e.GetProperty("nodes");
        var nodes = new Dictionary<string, NodeInfo>(nodesElement.GetArrayLength(), StringComparer.Ordinal);
        foreach (var n in nodesElement.EnumerateArray())
            nodes[n[0].GetString()!] = new NodeInfo(n[1].GetInt32(), n[2].GetInt32(), n[3].GetInt32(), n[4].GetInt32(),
                (NodeKind)n[5].GetInt32(), n[6].ValueKind == JsonValueKind.Null ? null : n[6].GetString());
        var rootElement = e.GetProperty("root");
        var root = rootElement.ValueKind == JsonValueKind.Null && !nodes.ContainsKey("") ? null : ReadToken(rootElement);
        return (root, nodes);
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
