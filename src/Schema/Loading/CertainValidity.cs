using System.Collections.Frozen;
using System.Text.Json;
using System.Text.RegularExpressions;
using Newtonsoft.Json.Linq;

namespace Reconciler.Schema.Loading;

/// <summary>
/// Answers one question before NJsonSchema is asked anything: is this document certainly valid under its schema?
/// It reads our embedded schemas with System.Text.Json (a millisecond) instead of NJsonSchema's object model, whose
/// first use costs ~120 ms of CPU per process (Newtonsoft contracts, schema resolution; docs/benchmarks/repo.md),
/// so a warm run that parses one changed file, and every valid file of a cold run, never pays for it.
/// It understands only the keywords our schemas use and only their plainest reading; for anything else, and for any
/// node that is not valid, it answers "not certain" and NJsonSchema decides, so every reported error is NJsonSchema's.
/// Tests hold it to NJsonSchema on every fixture and on mutated files.
/// </summary>
internal static class CertainValidity
{
    private static readonly FrozenDictionary<string, Lazy<SchemaNode?>> Roots = SchemaValidation.Kinds.ToFrozenDictionary(
        kind => kind, kind => new Lazy<SchemaNode?>(() => SchemaNode.Load(kind)), StringComparer.Ordinal);

    public static bool IsCertainlyValid(string kind, JToken root) =>
        Roots.TryGetValue(kind, out var schema) && schema.Value is { } node && node.Accepts(root);
}

/// <summary>One schema object, with its $ref resolved lazily against the document's definitions.</summary>
internal sealed class SchemaNode
{
    // Annotations: they constrain nothing.
    private static readonly FrozenSet<string> Annotations =
        new[] { "$schema", "$id", "$comment", "title", "description", "default", "examples", "markdownDescription", "definitions" }.ToFrozenSet(StringComparer.Ordinal);

    private readonly Func<string, SchemaNode?> _definition;
    private bool _unsupported;
    private string? _ref;
    private SchemaNode? _target;   // _ref resolved on first use (a benign race: every thread resolves the same node)
    private HashSet<string>? _types;
    private Regex? _pattern;
    private int? _minLength, _maxLength, _minItems, _maxItems, _minProperties, _maxProperties;
    private decimal? _minimum, _maximum;
    private HashSet<string>? _enum;
    private Dictionary<string, SchemaNode>? _properties;
    private List<(Regex Pattern, SchemaNode Schema)>? _patternProperties;
    private bool? _additionalAllowed;
    private SchemaNode? _additionalSchema;
    private List<string>? _required;
    private SchemaNode? _items;
    private bool _uniqueItems;
    private List<SchemaNode>? _anyOf;

    private SchemaNode(Func<string, SchemaNode?> definition) => _definition = definition;

    public static SchemaNode? Load(string kind)
    {
        using var stream = typeof(SchemaNode).Assembly.GetManifestResourceStream($"schemas/{kind.ToLowerInvariant()}.schema.json");
        if (stream is null) return null;
        using var document = JsonDocument.Parse(stream);
        return FromDocument(document);
    }

    /// <summary>The shortcut for any schema document (the conformance tests run the JSON-Schema-Test-Suite through it);
    /// a pattern it cannot read exactly makes the whole schema "not certain".</summary>
    public static SchemaNode? FromDocument(JsonDocument document)
    {
        try
        {
            return Build(document);
        }
        catch (Exception e) when (e is NotSupportedException or FormatException or InvalidOperationException)
        {
            return null;
        }
    }

    private static SchemaNode? Build(JsonDocument document)
    {
        var definitions = new Dictionary<string, SchemaNode?>(StringComparer.Ordinal);
        var root = document.RootElement.Clone();
        SchemaNode? Definition(string reference)
        {
            const string prefix = "#/definitions/";
            if (!reference.StartsWith(prefix, StringComparison.Ordinal)) return null;
            var name = reference[prefix.Length..];
            lock (definitions)
            {
                if (definitions.TryGetValue(name, out var known)) return known;
                SchemaNode? found;
                try
                {
                    found = root.TryGetProperty("definitions", out var all) && all.TryGetProperty(name, out var element)
                        ? Parse(element, Definition)
                        : null;
                }
                catch (Exception e) when (e is NotSupportedException or FormatException or InvalidOperationException)
                {
                    found = null;   // not readable by the plainest reading: "not certain"
                }
                definitions[name] = found;
                return found;
            }
        }
        return Parse(root, Definition);
    }

    private static SchemaNode Parse(JsonElement e, Func<string, SchemaNode?> definition)
    {
        var node = new SchemaNode(definition);
        if (e.ValueKind != JsonValueKind.Object)
        {
            node._unsupported = true;
            return node;
        }
        foreach (var p in e.EnumerateObject())
        {
            var v = p.Value;
            switch (p.Name)
            {
                case "$ref": node._ref = v.GetString(); break;
                case "type":
                    node._types = v.ValueKind == JsonValueKind.Array
                        ? v.EnumerateArray().Select(t => t.GetString() ?? "").ToHashSet(StringComparer.Ordinal)
                        : [v.GetString() ?? ""];
                    break;
                case "pattern": node._pattern = EcmaPattern.ToRegex(v.GetString()!); break;   // ECMA-262, as draft-07 says
                case "minLength": node._minLength = v.GetInt32(); break;
                case "maxLength": node._maxLength = v.GetInt32(); break;
                case "minimum": node._minimum = v.GetDecimal(); break;
                case "maximum": node._maximum = v.GetDecimal(); break;
                case "enum":
                    if (v.EnumerateArray().Any(x => x.ValueKind != JsonValueKind.String)) node._unsupported = true;
                    else node._enum = v.EnumerateArray().Select(x => x.GetString()!).ToHashSet(StringComparer.Ordinal);
                    break;
                case "properties":
                    node._properties = v.EnumerateObject().ToDictionary(x => x.Name, x => Parse(x.Value, definition), StringComparer.Ordinal);
                    break;
                case "patternProperties":
                    node._patternProperties = v.EnumerateObject().Select(x => (EcmaPattern.ToRegex(x.Name), Parse(x.Value, definition))).ToList();
                    break;
                case "additionalProperties":
                    if (v.ValueKind is JsonValueKind.True or JsonValueKind.False) node._additionalAllowed = v.GetBoolean();
                    else node._additionalSchema = Parse(v, definition);
                    break;
                case "required": node._required = v.EnumerateArray().Select(x => x.GetString()!).ToList(); break;
                case "minProperties": node._minProperties = v.GetInt32(); break;
                case "maxProperties": node._maxProperties = v.GetInt32(); break;
                case "items":
                    if (v.ValueKind == JsonValueKind.Object) node._items = Parse(v, definition);
                    else node._unsupported = true;   // tuple form
                    break;
                case "minItems": node._minItems = v.GetInt32(); break;
                case "maxItems": node._maxItems = v.GetInt32(); break;
                case "uniqueItems": node._uniqueItems = v.GetBoolean(); break;
                case "anyOf": node._anyOf = v.EnumerateArray().Select(x => Parse(x, definition)).ToList(); break;
                default:
                    if (!Annotations.Contains(p.Name)) node._unsupported = true;   // a keyword this class does not know
                    break;
            }
        }
        // A $ref or anyOf beside other constraints: drafts disagree on what that means; leave it to NJsonSchema.
        var constraints = e.EnumerateObject().Count(p => !Annotations.Contains(p.Name));
        if ((node._ref is not null || node._anyOf is not null) && constraints > 1) node._unsupported = true;
        return node;
    }

    /// <summary>True only when the token is valid by the plainest reading of every keyword; false means "not certain".</summary>
    public bool Accepts(JToken token)
    {
        if (_unsupported) return false;
        if (_ref is not null) return (_target ??= _definition(_ref)) is { } target && target.Accepts(token);
        if (_anyOf is not null) return _anyOf.Exists(branch => branch.Accepts(token));
        switch (token.Type)
        {
            case JTokenType.String:
            {
                if (!Allows("string")) return false;
                var s = (string)((JValue)token).Value!;
                if ((_minLength is not null || _maxLength is not null) && s.AsSpan().IndexOfAnyInRange('\uD800', '\uDFFF') >= 0) return false; // JSON Schema counts code points, a UTF-16 length does not: NJsonSchema judges
                if (_minLength is { } min && s.Length < min) return false;
                if (_maxLength is { } max && s.Length > max) return false;
                if (_pattern is not null && !_pattern.IsMatch(s)) return false;
                return _enum is null || _enum.Contains(s);
            }
            case JTokenType.Integer:
            {
                if (!(Allows("integer") || Allows("number")) || _enum is not null) return false;
                if (((JValue)token).Value is not long l) return false;   // beyond 64 bits: NJsonSchema judges
                return (_minimum is null || l >= _minimum) && (_maximum is null || l <= _maximum);
            }
            case JTokenType.Float:
                return Allows("number") && _enum is null && _minimum is null && _maximum is null
                       && double.IsFinite((double)((JValue)token).Value!);
            case JTokenType.Boolean:
                return Allows("boolean") && _enum is null;
            case JTokenType.Object:
                return Allows("object") && AcceptsObject((JObject)token);
            case JTokenType.Array:
                return Allows("array") && AcceptsArray((JArray)token);
            default:
                return false;
        }
    }

    /// <summary>A schema without "type" allows any type only if it says nothing else type-specific; be strict: require "type".</summary>
    private bool Allows(string type) => _types is not null && _types.Contains(type);

    private bool AcceptsObject(JObject obj)
    {
        if (_minProperties is { } min && obj.Count < min) return false;
        if (_maxProperties is { } max && obj.Count > max) return false;
        if (_required is not null)
            foreach (var name in _required)
                if (!obj.ContainsKey(name)) return false;
        foreach (var property in obj.Properties())
        {
            var matched = false;
            if (_properties is not null && _properties.TryGetValue(property.Name, out var declared))
            {
                matched = true;
                if (!declared.Accepts(property.Value)) return false;
            }
            if (_patternProperties is not null)
                foreach (var (pattern, schema) in _patternProperties)
                {
                    if (!pattern.IsMatch(property.Name)) continue;
                    matched = true;
                    if (!schema.Accepts(property.Value)) return false;
                }
            if (matched) continue;
            if (_additionalSchema is not null) { if (!_additionalSchema.Accepts(property.Value)) return false; }
            else if (_additionalAllowed != true) return false;   // false, or unspecified (extra keys: leave it to NJsonSchema)
        }
        return true;
    }

    private bool AcceptsArray(JArray array)
    {
        if (_minItems is { } min && array.Count < min) return false;
        if (_maxItems is { } max && array.Count > max) return false;
        HashSet<string>? seen = _uniqueItems ? new(StringComparer.Ordinal) : null;
        foreach (var item in array)
        {
            if (seen is not null && (item is not JValue { Value: string s } || !seen.Add(s))) return false;
            if (_items is null || !_items.Accepts(item)) return false;
        }
        return true;
    }
}
