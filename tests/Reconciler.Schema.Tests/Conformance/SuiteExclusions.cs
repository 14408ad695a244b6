using System.Text.Json;

namespace Reconciler.Schema.Tests.Conformance;

/// <summary>
/// An exclusion file: one line per excluded case or group, <c>keyword | file | group | test | reason</c>, where
/// group or test may be <c>*</c>; '#' starts a comment. Tracks which lines were used so stale ones are reported.
/// </summary>
internal sealed class SuiteExclusions
{
    public sealed record Entry(string Keyword, string File, string Group, string Test, string Reason)
    {
        public string Id => $"{File} | {Group} | {Test}";
    }

    private readonly HashSet<Entry> _used = [];

    public IReadOnlyList<Entry> Entries { get; }

    private SuiteExclusions(IReadOnlyList<Entry> entries) => Entries = entries;

    public static SuiteExclusions Load(string name)
    {
        var path = Path.Combine(AppContext.BaseDirectory, "Conformance", name);
        var entries = new List<Entry>();
        foreach (var raw in File.ReadAllLines(path))
        {
            var line = raw.Trim();
            if (line.Length == 0 || line.StartsWith('#')) continue;
            var parts = line.Split(" | ");
            if (parts.Length != 5 || parts[4].Trim().Length < 10)
                throw new FormatException($"{name}: '{line}' is not 'keyword | file | group | test | reason' with a reason");
            entries.Add(new Entry(parts[0].Trim(), parts[1].Trim(), parts[2].Trim(), parts[3].Trim(), parts[4].Trim()));
        }
        return new SuiteExclusions(entries);
    }

    /// <summary>Whether a case "file | group | test" is excluded.</summary>
    public bool Covers(string id)
    {
        var parts = id.Split(" | ");
        foreach (var e in Entries)
        {
            if (e.File != parts[0] || (e.Group != "*" && e.Group != parts[1]) || (e.Test != "*" && e.Test != parts[2])) continue;
            _used.Add(e);
            return true;
        }
        return false;
    }

    public List<string> Unused() => Entries.Where(e => !_used.Contains(e)).Select(e => e.Id).ToList();
}

/// <summary>The JSON Schema keywords our schemas (schemas/*.schema.json, as built in) use anywhere.</summary>
internal static class SchemaKeywords
{
    private static readonly string[] Kinds = ["repository", "environment", "service", "toggle"];

    public static HashSet<string> UsedByOurSchemas() => Walk().Used;

    /// <summary>Whether our schemas avoid the use of a keyword that an exclusion line ("keyword:feature") names.</summary>
    public static bool Guard(string feature)
    {
        var (_, schemas) = Walk();
        return feature switch
        {
            "$ref:uri" => schemas.All(s => !s.Value.TryGetProperty("$ref", out var r) || r.GetString()!.StartsWith("#/definitions/", StringComparison.Ordinal))
                          && schemas.All(s => s.Depth == 0 || !s.Value.TryGetProperty("$id", out _)),
            "uniqueItems:non-string-items" => schemas.All(s => !s.Value.TryGetProperty("uniqueItems", out _)
                          || (s.Value.TryGetProperty("items", out var items) && IsString(Resolve(items, s.Root)))),
            "maxProperties:0" => schemas.All(s => !s.Value.TryGetProperty("maxProperties", out var m) || m.GetInt32() > 0),
            _ => false,
        };
    }

    private static bool IsString(JsonElement schema) => schema.TryGetProperty("type", out var t) && t.ValueKind == JsonValueKind.String && t.GetString() == "string";

    private static JsonElement Resolve(JsonElement schema, JsonElement root) =>
        schema.TryGetProperty("$ref", out var r) && r.GetString() is { } reference && reference.StartsWith("#/definitions/", StringComparison.Ordinal)
            ? root.GetProperty("definitions").GetProperty(reference["#/definitions/".Length..])
            : schema;

    private static (HashSet<string> Used, List<(JsonElement Value, int Depth, JsonElement Root)> Schemas) Walk()
    {
        var used = new HashSet<string>(StringComparer.Ordinal);
        var schemas = new List<(JsonElement, int, JsonElement)>();
        foreach (var kind in Kinds)
        {
            using var stream = typeof(Reconciler.Schema.Loading.RepoLoader).Assembly.GetManifestResourceStream($"schemas/{kind}.schema.json")!;
            using var document = JsonDocument.Parse(stream);
            var root = document.RootElement.Clone();
            Collect(root, used, schemas, 0, root);
        }
        return (used, schemas);
    }

    private static void Collect(JsonElement schema, HashSet<string> used, List<(JsonElement, int, JsonElement)> schemas, int depth, JsonElement root)
    {
        if (schema.ValueKind != JsonValueKind.Object) return;
        schemas.Add((schema, depth, root));
        depth++;
        foreach (var p in schema.EnumerateObject())
        {
            used.Add(p.Name);
            switch (p.Name)
            {
                case "properties" or "patternProperties" or "definitions":
                    foreach (var child in p.Value.EnumerateObject()) Collect(child.Value, used, schemas, depth, root);
                    break;
                case "anyOf" or "allOf" or "oneOf":
                    foreach (var child in p.Value.EnumerateArray()) Collect(child, used, schemas, depth, root);
                    break;
                case "items" or "additionalProperties" or "not" or "if" or "then" or "else" or "contains" or "propertyNames":
                    Collect(p.Value, used, schemas, depth, root);
                    break;
            }
        }
    }
}
