using System.Collections.Concurrent;
using System.Globalization;
using System.Numerics;
using System.Text.Json.Nodes;
using Newtonsoft.Json.Linq;
using NJsonSchema;
using NJsonSchema.Validation;
using NJsonSchema.Validation.FormatValidators;

namespace Reconciler.Schema.Loading;

/// <summary>
/// Makes NJsonSchema read a schema and a document as JSON Schema draft-07 says, where NJsonSchema 11 differs:
/// <list type="bullet">
/// <item><c>pattern</c> and <c>patternProperties</c> are ECMA-262 regexes: each is translated by <see cref="EcmaPattern"/>
/// before NJsonSchema sees the schema (NJsonSchema hands the text to .NET's Regex as is).</item>
/// <item><c>minLength</c>/<c>maxLength</c> count code points: NJsonSchema counts UTF-16 units, so each bound that can
/// differ becomes an equivalent pattern over code points (<see cref="LengthBoundOf"/> maps it back for messages).</item>
/// <item><c>integer</c> includes 4.0 and 4e0: <see cref="NormalizeNumbers"/> turns every integral number into an
/// integer token before validation.</item>
/// <item><c>format</c> is an annotation (draft-07's default; our schemas use none): no format validators run.</item>
/// </list>
/// The same rewriting serves the project's schemas and the JSON-Schema-Test-Suite, which holds it to the spec.
/// </summary>
internal static class DraftSeven
{
    public static readonly JsonSchemaValidator Validator = new(new JsonSchemaValidatorSettings { FormatValidators = Array.Empty<IFormatValidator>() });

    // .NET pattern -> the ECMA-262 pattern the schema wrote; synthetic length pattern -> its bounds.
    private static readonly ConcurrentDictionary<string, string> OriginalPatterns = new(StringComparer.Ordinal);
    private static readonly ConcurrentDictionary<string, (int? Min, int? Max)> LengthPatterns = new(StringComparer.Ordinal);

    private static readonly string[] SchemaValued = ["additionalProperties", "additionalItems", "contains", "propertyNames", "not", "if", "then", "else", "items"];
    private static readonly string[] SchemaArrays = ["allOf", "anyOf", "oneOf", "items"];
    private static readonly string[] SchemaMaps = ["properties", "patternProperties", "definitions", "dependencies"];

    /// <summary>Parses a draft-07 schema for NJsonSchema after rewriting what NJsonSchema would read differently.</summary>
    public static JsonSchema Load(string schemaJson, string? documentPath = null)
    {
        var node = BooleanSchema(JsonNode.Parse(schemaJson));
        Rewrite(node);
        var text = node?.ToJsonString() ?? "null";
        return documentPath is null
            ? JsonSchema.FromJsonAsync(text).GetAwaiter().GetResult()
            : JsonSchema.FromJsonAsync(text, documentPath).GetAwaiter().GetResult();
    }

    /// <summary>Validates a document (already number-normalised) against a schema loaded by <see cref="Load"/>.</summary>
    public static ICollection<ValidationError> Validate(JToken document, JsonSchema schema) => Validator.Validate(document, schema);

    /// <summary>The pattern a schema wrote, for a .NET pattern NJsonSchema reports.</summary>
    public static string OriginalPattern(string netPattern) => OriginalPatterns.GetValueOrDefault(netPattern, netPattern);

    /// <summary>The length bounds a synthetic pattern stands for; null for a pattern the schema wrote.</summary>
    public static (int? Min, int? Max)? LengthBoundOf(string? netPattern) =>
        netPattern is not null && LengthPatterns.TryGetValue(netPattern, out var b) ? b : null;

    /// <summary>draft-07 allows true/false wherever a schema goes; NJsonSchema only for additionalProperties/Items.
    /// true is the empty schema, false is {"not": {}}.</summary>
    private static JsonNode? BooleanSchema(JsonNode? node) => node is JsonValue v && v.TryGetValue<bool>(out var b)
        ? (b ? new JsonObject() : new JsonObject { ["not"] = new JsonObject() })
        : node;

    private static void Rewrite(JsonNode? node)
    {
        if (node is not JsonObject schema) return;
        foreach (var keyword in SchemaValued.Except(["additionalProperties", "additionalItems"]))
            if (schema[keyword] is JsonValue) schema[keyword] = BooleanSchema(schema[keyword]);
        foreach (var keyword in SchemaArrays)
            if (schema[keyword] is JsonArray list)
                for (var i = 0; i < list.Count; i++)
                    if (list[i] is JsonValue) list[i] = BooleanSchema(list[i]!.DeepClone());
        foreach (var keyword in SchemaMaps)
            if (schema[keyword] is JsonObject map)
                foreach (var (key, value) in map.ToList())
                    if (value is JsonValue) map[key] = BooleanSchema(value.DeepClone());
        if (schema["pattern"] is JsonValue p && p.TryGetValue<string>(out var pattern)) schema["pattern"] = Translated(pattern);
        foreach (var keyword in SchemaValued)
            if (schema[keyword] is JsonObject sub) Rewrite(sub);
        foreach (var keyword in SchemaArrays)
            if (schema[keyword] is JsonArray list) foreach (var item in list) Rewrite(item);
        foreach (var keyword in SchemaMaps)
            if (schema[keyword] is JsonObject map) foreach (var (_, value) in map.ToList()) Rewrite(value);
        if (schema["patternProperties"] is JsonObject patterns)
        {
            // NJsonSchema applies only the first pattern a name matches; each one applies, so each is also checked
            // alone (the full set stays for additionalProperties).
            if (patterns.Count > 1)
            {
                foreach (var (key, value) in patterns.ToList())
                    AddToAllOf(schema, new JsonObject { ["patternProperties"] = new JsonObject { [Translated(key)] = value?.DeepClone() } });
            }
            var renamed = new JsonObject();
            foreach (var (key, value) in patterns.ToList())
            {
                patterns.Remove(key);
                renamed[Translated(key)] = value;
            }
            schema["patternProperties"] = renamed;
        }
        RewriteCounts(schema);
        RewriteLengths(schema);   // last: its pattern is .NET syntax already
    }

    private static readonly string[] CountKeywords = ["minItems", "maxItems", "minProperties", "maxProperties"];

    /// <summary>Where NJsonSchema reads a count keyword or "required" otherwise than draft-07.</summary>
    private static void RewriteCounts(JsonObject schema)
    {
        // 2.0 is a valid count; NJsonSchema's integer properties refuse to load it.
        foreach (var keyword in CountKeywords)
            if (Bound(schema[keyword]) is { } n) schema[keyword] = n;
        // NJsonSchema takes maxProperties 0 as "no limit".
        if (Bound(schema["maxProperties"]) == 0)
        {
            schema.Remove("maxProperties");
            AddToAllOf(schema, new JsonObject
            {
                ["anyOf"] = new JsonArray(
                    new JsonObject { ["not"] = new JsonObject { ["type"] = "object" } },
                    new JsonObject { ["type"] = "object", ["additionalProperties"] = false }),
            });
        }
        // NJsonSchema applies "required" to non-objects too; draft-07 ignores them. Beside "type": "object" (as in
        // every schema of ours) the verdict is the same either way, so only other schemas are rewritten.
        if (schema["required"] is JsonArray required && !(schema["type"] is JsonValue t && t.TryGetValue<string>(out var type) && type == "object"))
        {
            schema.Remove("required");
            AddToAllOf(schema, new JsonObject
            {
                ["anyOf"] = new JsonArray(
                    new JsonObject { ["not"] = new JsonObject { ["type"] = "object" } },
                    new JsonObject { ["required"] = required }),
            });
        }
    }

    /// <param name="item">Typed JsonNode so that JsonArray.Add(JsonNode) is called, not Add&lt;T&gt;, which makes a
    /// JsonValue by reflection for a non-node T (trim- and AOT-unsafe).</param>
    private static void AddToAllOf(JsonObject schema, JsonNode item)
    {
        if (schema["allOf"] is JsonArray existing)
        {
            existing.Add(item);
            return;
        }
        schema["allOf"] = new JsonArray(item);
    }

    private static string Translated(string ecma)
    {
        var net = EcmaPattern.Translate(ecma);
        OriginalPatterns.TryAdd(net, ecma);
        return net;
    }

    /// <summary>minLength 0/1 mean the same in code points and UTF-16 units; anything else becomes a pattern.</summary>
    private static void RewriteLengths(JsonObject schema)
    {
        var min = Bound(schema["minLength"]);
        var max = Bound(schema["maxLength"]);
        if (min is <= 1) min = null;
        if (min is null && max is null) return;
        if (min is not null) schema.Remove("minLength");
        if (max is not null) schema.Remove("maxLength");
        var pattern = string.Create(CultureInfo.InvariantCulture,
            $@"^(?>[\uD800-\uDBFF][\uDC00-\uDFFF]|[\s\S]){{{min ?? 0},{(max is null ? "" : max.Value.ToString(CultureInfo.InvariantCulture))}}}\z");
        LengthPatterns.TryAdd(pattern, (min, max));
        AddToAllOf(schema, new JsonObject { ["pattern"] = pattern });
    }

    // draft-07 allows 2.0 as a length bound.
    private static int? Bound(JsonNode? node) =>
        node is JsonValue v && v.TryGetValue<double>(out var d) && d >= 0 && Math.Floor(d) == d && d <= int.MaxValue ? (int)d : null;

    /// <summary>draft-07: "integer" is any number with a zero fractional part, so 4.0 and 4e0 are integers. Rewrites
    /// such numbers in place as integer tokens (the YAML source text is kept apart, for messages). Integers beyond
    /// 64 bits become the nearest 64-bit one (docs/format.md: every bound in our schemas lies far inside).</summary>
    public static void NormalizeNumbers(JToken token)
    {
        switch (token)
        {
            case JValue { Type: JTokenType.Float } value:
            {
                var d = value.Value switch
                {
                    double dd => dd,
                    float f => f,
                    decimal m => (double)m,
                    _ => double.NaN,
                };
                if (value.Value is decimal dec && decimal.Truncate(dec) == dec) value.Value = new BigInteger(dec) is var big && big >= long.MinValue && big <= long.MaxValue ? (long)big : (big.Sign > 0 ? long.MaxValue : long.MinValue);
                else if (double.IsFinite(d) && Math.Floor(d) == d)
                    value.Value = d is >= -9.2233720368547758e18 and < 9.2233720368547758e18 ? (long)d : (d > 0 ? long.MaxValue : long.MinValue);
                break;
            }
            case JValue { Type: JTokenType.Integer, Value: BigInteger huge }:
                // NJsonSchema cannot compare a BigInteger (it throws); past 64 bits every bound our schemas set is
                // decided the same by the nearest 64-bit value. The text as written stays in the position map.
                ((JValue)token).Value = huge > long.MaxValue ? long.MaxValue : long.MinValue;
                break;
            case JProperty property:
                if (property.Value is { } propertyValue) NormalizeNumbers(propertyValue);
                break;
            case JContainer container:
                // First/Next rather than Children(): no enumerator per container, this runs on every file loaded.
                for (var child = container.First; child is not null; child = child.Next) NormalizeNumbers(child);
                break;
        }
    }
}
